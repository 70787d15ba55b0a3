package harness

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
)

// Querier is what the checks need of a database connection; *pgx.Conn
// (connected as the superuser of the test database: RLS does not apply, so
// it sees the ground truth) satisfies it.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) tenantdb.Row
	Query(ctx context.Context, sql string, args ...any) (tenantdb.Rows, error)
}

// Count runs a count query.
func Count(ctx context.Context, q Querier, sql string, args ...any) (int, error) {
	var n int
	err := q.QueryRow(ctx, sql, args...).Scan(&n)
	return n, err
}

// Doc is one document a run expects to find ready.
type Doc struct {
	Tenant     uuid.UUID
	DocumentID string
	Key        string
	Version    string
	Chunks     int // expected chunk count (0: not checked)
}

// Report is what Check found.
type Report struct {
	Documents, Ready, Failed, Processing int
	Chunks, DistinctChunks               int
	IngestAudits, DuplicateAudits        int // document.ingested / document.ingest_duplicate rows
	AuditEvents                          int64
	Tenants                              int
	Problems                             []string
}

// OK reports whether no problem was found.
func (r Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) < 50 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == 50 {
		r.Problems = append(r.Problems, "… more problems")
	}
}

// Check verifies the exactly-once invariants for want as the ground truth
// sees them (q: superuser of the test database) and the audit chains as the
// owner role sees them (ownerURL):
//   - every wanted document exists, is ready, at its version, and no other
//     document exists;
//   - no chunk is doubled: count = count(DISTINCT tenant, document, version,
//     ordinal), and each document's chunks are exactly ordinals 0..n-1 of its
//     version, n = its chunk_count (= Doc.Chunks when given);
//   - exactly one document.ingested audit row per document version;
//   - every tenant's audit chain verifies (internal/audit.VerifyAll).
func Check(ctx context.Context, q Querier, ownerURL string, want []Doc) (Report, error) {
	var r Report
	type dkey struct {
		tenant uuid.UUID
		doc    string
	}
	wanted := map[dkey]Doc{}
	tenants := map[uuid.UUID]bool{}
	for _, d := range want {
		wanted[dkey{d.Tenant, d.DocumentID}] = d
		tenants[d.Tenant] = true
	}
	r.Tenants = len(tenants)

	type docRow struct {
		version, status, errCode string
		chunks                   int
	}
	got := map[dkey]docRow{}
	rows, err := q.Query(ctx, `SELECT tenant_id, document_id, version, status, chunk_count, error FROM documents`)
	if err != nil {
		return r, err
	}
	for rows.Next() {
		var k dkey
		var d docRow
		if err := rows.Scan(&k.tenant, &k.doc, &d.version, &d.status, &d.chunks, &d.errCode); err != nil {
			rows.Close()
			return r, err
		}
		got[k] = d
		r.Documents++
		switch d.status {
		case "ready":
			r.Ready++
		case "failed":
			r.Failed++
		default:
			r.Processing++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, err
	}
	for k, w := range wanted {
		d, ok := got[k]
		switch {
		case !ok:
			r.problem("missing document %s/%s", k.tenant, k.doc)
		case d.status != "ready":
			r.problem("document %s/%s is %s (%s)", k.tenant, k.doc, d.status, d.errCode)
		case w.Version != "" && d.version != w.Version:
			r.problem("document %s/%s at version %s, want %s", k.tenant, k.doc, d.version, w.Version)
		case w.Chunks > 0 && d.chunks != w.Chunks:
			r.problem("document %s/%s has chunk_count %d, want %d", k.tenant, k.doc, d.chunks, w.Chunks)
		}
	}
	for k := range got {
		if _, ok := wanted[k]; !ok {
			r.problem("unexpected document %s/%s", k.tenant, k.doc)
		}
	}

	if err := q.QueryRow(ctx, `SELECT count(*), count(DISTINCT (tenant_id, document_id, version, ordinal)) FROM chunks`).
		Scan(&r.Chunks, &r.DistinctChunks); err != nil {
		return r, err
	}
	if r.Chunks != r.DistinctChunks {
		r.problem("%d chunk rows but %d distinct (tenant, document, version, ordinal)", r.Chunks, r.DistinctChunks)
	}
	rows, err = q.Query(ctx, `SELECT c.tenant_id, c.document_id, c.version, count(*), min(c.ordinal), max(c.ordinal)
		FROM chunks c GROUP BY 1, 2, 3`)
	if err != nil {
		return r, err
	}
	seen := map[dkey]bool{}
	for rows.Next() {
		var k dkey
		var version string
		var n, lo, hi int
		if err := rows.Scan(&k.tenant, &k.doc, &version, &n, &lo, &hi); err != nil {
			rows.Close()
			return r, err
		}
		d, ok := got[k]
		switch {
		case !ok:
			r.problem("chunks of unknown document %s/%s", k.tenant, k.doc)
		case seen[k] || version != d.version:
			r.problem("document %s/%s has chunks of another version", k.tenant, k.doc)
		case n != d.chunks || lo != 0 || hi != n-1:
			r.problem("document %s/%s has %d chunks (ordinals %d..%d), chunk_count %d", k.tenant, k.doc, n, lo, hi, d.chunks)
		}
		seen[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, err
	}
	for k, d := range got {
		if d.status == "ready" && d.chunks > 0 && !seen[k] {
			r.problem("ready document %s/%s has no chunks", k.tenant, k.doc)
		}
	}

	// Audit: one document.ingested row per (tenant, object, version).
	type akey struct {
		tenant            uuid.UUID
		resource, version string
	}
	ingested := map[akey][]string{} // each row's job and sequence number, for the report
	rows, err = q.Query(ctx, `SELECT tenant_id, resource, payload_hash, action, job_id, seq FROM audit_events
		WHERE action IN ('document.ingested', 'document.ingest_duplicate') ORDER BY seq`)
	if err != nil {
		return r, err
	}
	for rows.Next() {
		var k akey
		var action, job string
		var seq int64
		if err := rows.Scan(&k.tenant, &k.resource, &k.version, &action, &job, &seq); err != nil {
			rows.Close()
			return r, err
		}
		if action == "document.ingested" {
			ingested[k] = append(ingested[k], fmt.Sprintf("job %s seq %d", job, seq))
			r.IngestAudits++
		} else {
			r.DuplicateAudits++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, err
	}
	bucket := bucketOf(ctx, q)
	for _, w := range want {
		if w.Key == "" || w.Version == "" {
			continue
		}
		k := akey{w.Tenant, "s3://" + bucket + "/" + w.Key, w.Version}
		if got := ingested[k]; len(got) != 1 {
			r.problem("document %s/%s has %d document.ingested audit rows, want 1 (%s)", w.Tenant, w.DocumentID, len(got),
				strings.Join(got, ", "))
		}
	}
	if r.IngestAudits != len(want) {
		r.problem("%d document.ingested audit rows for %d documents", r.IngestAudits, len(want))
	}

	reports, err := VerifyAudit(ctx, ownerURL, nil)
	if err != nil {
		return r, err
	}
	for _, rep := range reports {
		r.AuditEvents += rep.Events
		if !rep.OK {
			r.problem("audit chain of %s broken: %s", rep.TenantID, rep.Problem)
		}
	}
	for t := range tenants {
		found := false
		for _, rep := range reports {
			found = found || rep.TenantID == t
		}
		if !found {
			r.problem("tenant %s has no audit chain", t)
		}
	}
	sort.Strings(r.Problems)
	return r, nil
}

// bucketOf reads the bucket from a stored source URI (every document of a
// run is in one bucket).
func bucketOf(ctx context.Context, q Querier) string {
	var uri string
	if err := q.QueryRow(ctx, `SELECT source_uri FROM documents LIMIT 1`).Scan(&uri); err != nil {
		return ""
	}
	b, _, _ := strings.Cut(strings.TrimPrefix(uri, "s3://"), "/")
	return b
}

// VerifyAudit recomputes every tenant's audit chain (all tenants with a
// chain when tenants is empty) as the owner role, as `tenantry audit verify`
// does.
func VerifyAudit(ctx context.Context, ownerURL string, tenants []uuid.UUID) ([]audit.TenantReport, error) {
	return service.AuditVerify(ctx, ownerURL, tenants)
}

// Chunker mirrors the worker's extraction and chunking (same packages, same
// settings) to predict a text document's chunks.
type Chunker struct {
	ex *extract.Extractor
	ch *chunk.Chunker
}

// NewChunker returns a Chunker for the worker's TENANTRY_CHUNK_TOKENS and
// TENANTRY_CHUNK_OVERLAP (0 overlap: none, as the worker reads it).
func NewChunker(maxTokens, overlap int) (*Chunker, error) {
	ex, err := extract.New(extract.Config{}, nil)
	if err != nil {
		return nil, err
	}
	if overlap == 0 {
		overlap = chunk.NoOverlap
	}
	ch, err := chunk.New(chunk.Config{MaxTokens: maxTokens, OverlapTokens: overlap}, nil)
	if err != nil {
		return nil, err
	}
	return &Chunker{ex: ex, ch: ch}, nil
}

// Close releases the extractor.
func (c *Chunker) Close() error { return c.ex.Close() }

// Chunks returns the chunks the worker makes of body (text formats).
func (c *Chunker) Chunks(ctx context.Context, mediaType string, body []byte) ([]pipeline.Chunk, error) {
	x, err := c.ex.Extract(ctx, mediaType, strings.NewReader(string(body)), int64(len(body)))
	if err != nil {
		return nil, err
	}
	return c.ch.Chunk(ctx, x)
}
