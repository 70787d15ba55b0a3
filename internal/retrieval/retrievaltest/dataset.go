// Package retrievaltest builds skewed multi-tenant search datasets in a test
// database (internal/tenantdb/tenantdbtest) for retrieval's tests and the
// recall benchmark. It must never be imported by non-test code.
package retrievaltest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/pgvector/pgvector-go"

	"github.com/tenantry/tenantry/internal/embed/offline"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// Kind is how vectors are made.
type Kind string

// The kinds.
const (
	// Clustered: Gaussian clusters around centroids shared by every tenant,
	// so each tenant's rows are spread through the whole index (the hard
	// case for a filtered HNSW scan).
	Clustered Kind = "clustered"
	// Text: the offline embedder over generated topical text.
	Text Kind = "text"
)

// Spec describes a dataset.
type Spec struct {
	// Rows per tenant, e.g. Skewed(100000).
	Rows []int
	Kind Kind
	Dims int // default tenantdbtest.Dims
	// ChunksPerDoc (default 10): documents carry the attributes, so a filter
	// selects whole documents.
	ChunksPerDoc int
	Seed         uint64
	// Queries per tenant (default 20).
	Queries int
	// M and EFConstruction are the HNSW build parameters (0: the product's,
	// m 16 and ef_construction 128 as 0003_retrieval.sql builds the index).
	M, EFConstruction int
	// KeepRows keeps every row's vector in Tenant.Rows (for brute-force
	// checks on small datasets).
	KeepRows bool
}

// Row is one stored chunk (KeepRows).
type Row struct {
	DocumentID string
	Ordinal    int
	Bucket     int
	Vector     []float32
}

// Skewed splits total rows 90% / 9.9% / 0.1% / 10 rows between four tenants.
func Skewed(total int) []int {
	return []int{total * 90 / 100, total * 99 / 1000, max(total/1000, 1), 10}
}

// Tenant is one tenant of a dataset.
type Tenant struct {
	ID    uuid.UUID
	Count int // rows
	Docs  int
	Rows  []Row // KeepRows only
	// Queries are query vectors near the tenant's data (not rows of it).
	Queries [][]float32
	// QueryTexts are the texts the Text kind's queries were embedded from.
	QueryTexts []string
}

// Dataset is a loaded dataset.
type Dataset struct {
	Tenants []Tenant
	Dims    int
}

// RareFilter is the JSON filter that matches documents whose "bucket"
// attribute is 0: 1% of a large tenant's documents (bucket = document index
// mod 100), at least one document of every tenant.
const RareFilter = `{"equals": {"key": "bucket", "value": 0}}`

var vocab = strings.Fields(`ledger invoice tenant audit vector index shard replica queue retry backoff
	jitter policy schema migration role grant revoke token issuer audience claim expiry session cookie
	bucket object prefix upload presign envelope signature key rotation kms secret lambda worker drain
	heartbeat visibility timeout dead letter redrive replay chunk embed model search recall latency
	budget quota region zone failover backup restore snapshot archive retention compliance privacy
	customer invoice payment refund currency ledger journal balance account report dashboard metric
	alert incident pager oncall runbook deploy release canary rollback feature flag experiment cohort`)

// topicText writes n words biased towards topic's slice of the vocabulary.
func topicText(r *rand.Rand, topic, topics, n int) string {
	per := len(vocab) / topics
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		if r.IntN(3) > 0 {
			b.WriteString(vocab[topic*per+r.IntN(per)])
		} else {
			b.WriteString(vocab[r.IntN(len(vocab))])
		}
	}
	return b.String()
}

const clusters = 64

func gaussian(r *rand.Rand, out []float32, center []float32, sigma float64) {
	var norm float64
	for i := range out {
		v := float64(center[i]) + r.NormFloat64()*sigma
		out[i] = float32(v)
		norm += v * v
	}
	norm = math.Sqrt(norm)
	for i := range out {
		out[i] = float32(float64(out[i]) / norm)
	}
}

// Load creates spec's tenants, documents and chunks in db (bulk, as the
// superuser), builds the HNSW index once and analyses.
func Load(t testing.TB, db *tenantdbtest.Database, spec Spec) *Dataset {
	t.Helper()
	if spec.Dims == 0 {
		spec.Dims = tenantdbtest.Dims
	}
	if spec.ChunksPerDoc == 0 {
		spec.ChunksPerDoc = 10
	}
	if spec.Queries == 0 {
		spec.Queries = 20
	}
	if spec.Kind == "" {
		spec.Kind = Clustered
	}
	if spec.M == 0 {
		spec.M = 16
	}
	if spec.EFConstruction == 0 {
		spec.EFConstruction = 128
	}
	r := rand.New(rand.NewPCG(spec.Seed, 0x7e57)) //nolint:gosec // reproducible test data, not secrets
	centers := make([][]float32, clusters)
	for i := range centers {
		centers[i] = make([]float32, spec.Dims)
		gaussian(r, centers[i], make([]float32, spec.Dims), 1)
	}
	// Cluster spread: 0.04 per dimension puts a row about as far from its
	// centre as two centres are from each other on 1024 dimensions divided
	// by ~1.6, so neighbourhoods overlap (not trivially separable).
	sigma := 1.3 / math.Sqrt(float64(spec.Dims))
	emb, err := offline.New(offline.Config{Dims: spec.Dims})
	if err != nil {
		t.Fatal(err)
	}
	const topics = 8
	vector := func(topic int) ([]float32, string) {
		if spec.Kind == Text {
			text := topicText(r, topic%topics, topics, 40+r.IntN(40))
			v, err := emb.Embed(context.Background(), []string{text})
			if err != nil {
				t.Fatal(err)
			}
			return v[0], text
		}
		v := make([]float32, spec.Dims)
		gaussian(r, v, centers[topic%clusters], sigma)
		return v, topicText(r, topic%topics, topics, 30)
	}

	db.DropHNSW(t)
	ds := &Dataset{Dims: spec.Dims}
	var tenants, docs, chunks [][]any
	for ti, n := range spec.Rows {
		tn := Tenant{ID: uuid.New(), Count: n}
		tenants = append(tenants, []any{tn.ID})
		for d := 0; d*spec.ChunksPerDoc < n; d++ {
			docID := fmt.Sprintf("doc-%05d", d)
			count := min(spec.ChunksPerDoc, n-d*spec.ChunksPerDoc)
			attrs := fmt.Sprintf(`{"bucket": %d, "year": %d, "team": %q, "tenant_index": %d}`,
				d%100, 2020+d%5, []string{"finance", "legal", "sales", "support"}[d%4], ti)
			docs = append(docs, []any{tn.ID, docID, "s3://bench/" + tn.ID.String() + "/" + docID + "/f.txt",
				"sha256:v1", "ready", count, "tenantry-bench", attrs})
			topic := r.IntN(clusters)
			for o := range count {
				v, text := vector(topic)
				if r.IntN(4) == 0 {
					topic = r.IntN(clusters)
				}
				if spec.KeepRows {
					tn.Rows = append(tn.Rows, Row{DocumentID: docID, Ordinal: o, Bucket: d % 100, Vector: v})
				}
				chunks = append(chunks, []any{tn.ID, docID, "sha256:v1", o, text, len(text) / 4, o * 1000,
					o*1000 + len(text), 1, pgvector.NewVector(v), "tenantry-bench", fmt.Sprintf("h%d", o)})
			}
			tn.Docs++
		}
		for range spec.Queries {
			v, text := vector(r.IntN(clusters))
			tn.Queries = append(tn.Queries, v)
			tn.QueryTexts = append(tn.QueryTexts, text)
		}
		ds.Tenants = append(ds.Tenants, tn)
	}
	db.BulkLoad(t, "tenants", []string{"tenant_id"}, tenants)
	db.BulkLoad(t, "documents", []string{"tenant_id", "document_id", "source_uri", "version", "status",
		"chunk_count", "model", "attributes"}, docs)
	db.BulkLoad(t, "chunks", []string{"tenant_id", "document_id", "version", "ordinal", "text", "token_count",
		"char_start", "char_end", "page", "embedding", "model", "content_hash"}, chunks)
	db.RebuildHNSW(t, spec.M, spec.EFConstruction)
	return ds
}
