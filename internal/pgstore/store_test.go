package pgstore_test

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
)

// Minimal stages, so these tests exercise the store, not the extractors.
type memFetcher map[string]string

func (m memFetcher) Fetch(_ context.Context, d pipeline.Document, _ int64) (io.ReadCloser, error) {
	s, ok := m[d.DocumentID]
	if !ok {
		return nil, errors.New("no such object")
	}
	return io.NopCloser(strings.NewReader(s)), nil
}

type lineExtractor struct{}

func (lineExtractor) Extract(_ context.Context, _ string, r io.Reader, _ int64) (pipeline.Extracted, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return pipeline.Extracted{}, err
	}
	if strings.TrimSpace(string(b)) == "" {
		return pipeline.Extracted{}, pipeline.ErrEmpty
	}
	var out pipeline.Extracted
	for _, l := range strings.Split(string(b), "\n") {
		out.Sections = append(out.Sections, pipeline.Section{Text: l})
	}
	return out, nil
}

type lineChunker struct{}

func (lineChunker) Chunk(_ context.Context, e pipeline.Extracted) ([]pipeline.Chunk, error) {
	var out []pipeline.Chunk
	off := 0
	for i, s := range e.Sections {
		n := len([]rune(s.Text))
		if n > 0 {
			out = append(out, pipeline.Chunk{Ordinal: len(out), Text: s.Text, TokenCount: len(strings.Fields(s.Text)), CharStart: off, CharEnd: off + n})
		}
		off += n
		if i < len(e.Sections)-1 {
			off += 2
		}
	}
	return out, nil
}

type wordEmbedder struct{}

func (wordEmbedder) Model() string   { return "test-words" }
func (wordEmbedder) Dimensions() int { return tenantdbtest.Dims }
func (wordEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, tenantdbtest.Dims)
		for _, w := range strings.Fields(strings.ToLower(t)) {
			h := fnv.New32a()
			h.Write([]byte(w))
			v[h.Sum32()%uint32(len(v))] += 1
		}
		v[0] += 0.01 // never the zero vector
		out[i] = v
	}
	return out, nil
}

func setup(t *testing.T) (*pgstore.Store, *pipeline.Processor, memFetcher) {
	t.Helper()
	_, st, p, f := setupGateway(t)
	return st, p, f
}

// setupGateway is setup, also returning the test's gateway (for
// searchTenant).
func setupGateway(t *testing.T) (*tenantdbtest.Gateway, *pgstore.Store, *pipeline.Processor, memFetcher) {
	t.Helper()
	f := memFetcher{}
	g := tenantdbtest.TestTx(t)
	return g, pgstore.New(g, nil), &pipeline.Processor{Fetcher: f, Extractor: lineExtractor{}, Chunker: lineChunker{}, Embedder: wordEmbedder{}}, f
}

// searchTenant is the product's search (internal/retrieval: the tenant as
// a predicate the planner sees, exact for small tenants). These tests do
// not use the post-filtered HNSW baseline (Scoped.Search): its answer
// depends on every other test's rows in the shared index.
func searchTenant(t *testing.T, g retrieval.Gateway, scope tenantdb.Scope, query string, k int) []retrieval.Hit {
	t.Helper()
	ctx := context.Background()
	s, err := retrieval.New(g, retrieval.Config{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(ctx, scope, retrieval.Request{Vector: must(wordEmbedder{}.Embed(ctx, []string{query}))[0], K: k})
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	return res.Hits
}

func doc(tenant uuid.UUID, id, seq string) pipeline.Document {
	return pipeline.Document{DocumentID: id, SourceURI: "s3://b/" + tenant.String() + "/" + id + "/f.txt",
		MediaType: "text/plain", Sequencer: seq}
}

func TestIngestIsIdempotentReplacesAndDeletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g, st, p, f := setupGateway(t)
	tenant := uuid.New()
	scope := tenantdbtest.Scope(t, tenant)
	f["d1"] = "alpha beta\ngamma delta\nepsilon"
	res, err := p.Ingest(ctx, st.For(scope), doc(tenant, "d1", "0A"))
	if err != nil || res.Claim != pipeline.ClaimProceed || res.Chunks != 3 {
		t.Fatalf("first ingest: %+v, %v", res, err)
	}
	// Same content again (redelivery / duplicate S3 event): nothing new.
	res, err = p.Ingest(ctx, st.For(scope), doc(tenant, "d1", "0A"))
	if err != nil || res.Claim != pipeline.ClaimDone {
		t.Fatalf("duplicate: %+v, %v", res, err)
	}
	docs, err := st.For(scope).Documents(ctx)
	if err != nil || len(docs) != 1 || docs[0].Chunks != 3 || docs[0].Status != "ready" {
		t.Fatalf("after duplicate: %+v, %v", docs, err)
	}
	// Changed content: old chunks replaced atomically.
	f["d1"] = "zeta eta"
	if _, err := p.Ingest(ctx, st.For(scope), doc(tenant, "d1", "0B")); err != nil {
		t.Fatal(err)
	}
	docs, _ = st.For(scope).Documents(ctx)
	if docs[0].Chunks != 1 {
		t.Fatalf("after replace: %d chunks, want 1", docs[0].Chunks)
	}
	// An older event arriving late does not overwrite the newer version.
	f["d1"] = "stale content from before"
	res, err = p.Ingest(ctx, st.For(scope), doc(tenant, "d1", "09"))
	if err != nil || res.Claim != pipeline.ClaimStale {
		t.Fatalf("stale event: %+v, %v", res, err)
	}
	// An older event's permanent failure reported late leaves the newer
	// version ready.
	if err := st.For(scope).Fail(ctx, doc(tenant, "d1", "09"), "extract_failed"); err != nil {
		t.Fatal(err)
	}
	if docs, _ = st.For(scope).Documents(ctx); docs[0].Status != "ready" || docs[0].Chunks != 1 {
		t.Fatalf("after a stale failure: %+v", docs)
	}
	// A stale delete is ignored; a newer one removes document and chunks.
	// (Each removal event is its own job: its own SQS message.)
	if err := st.For(scope.WithJob("removal-1")).Delete(ctx, doc(tenant, "d1", "0A")); err != nil {
		t.Fatal(err)
	}
	if docs, _ = st.For(scope).Documents(ctx); len(docs) != 1 {
		t.Fatal("stale delete removed the document")
	}
	if err := st.For(scope.WithJob("removal-2")).Delete(ctx, doc(tenant, "d1", "0C")); err != nil {
		t.Fatal(err)
	}
	if docs, _ = st.For(scope).Documents(ctx); len(docs) != 0 {
		t.Fatalf("after delete: %+v", docs)
	}
	if hits := searchTenant(t, g, scope, "zeta", 5); len(hits) != 0 {
		t.Fatalf("search after delete: %v", hits)
	}
}

// Deletes and purges are single-use, from the attacker's side: a captured
// delete or purge message replayed after the tenant uploaded again (same job
// id, i.e. the same envelope jti) removes nothing, and answers ErrAlreadyDone.
// A new job (a fresh envelope) still works, a spent job spends nothing else,
// and a purge keeps the spent-job records so a pre-purge delete stays spent.
func TestDeletesAndPurgesAreSingleUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, p, f := setup(t)
	tenant := uuid.New()
	base := tenantdbtest.Scope(t, tenant)
	ingest := func(id, text string) {
		t.Helper()
		f[id] = text
		if _, err := p.Ingest(ctx, st.For(base.WithJob("upload-"+id+"-"+text)), doc(tenant, id, "")); err != nil {
			t.Fatal(err)
		}
	}
	has := func(id string) bool {
		t.Helper()
		_, _, err := st.For(base).Document(ctx, id)
		if err != nil && !errors.Is(err, pgstore.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	del := func(job, id string) error {
		return st.For(base.WithJob(job)).Delete(ctx, pipeline.Document{DocumentID: id})
	}

	ingest("d1", "first version")
	if err := del("jti-delete-1", "d1"); err != nil || has("d1") {
		t.Fatalf("delete: %v, still there: %v", err, has("d1"))
	}
	ingest("d1", "uploaded again after the delete")
	if err := del("jti-delete-1", "d1"); !errors.Is(err, pgstore.ErrAlreadyDone) {
		t.Fatalf("replayed delete: %v, want ErrAlreadyDone", err)
	}
	if !has("d1") {
		t.Fatal("a replayed delete removed the document uploaded after it ran")
	}
	// Spent even when there was nothing to delete: replayed once d2 exists.
	if err := del("jti-delete-2", "d2"); err != nil {
		t.Fatal(err)
	}
	ingest("d2", "exists now")
	if err := del("jti-delete-2", "d2"); !errors.Is(err, pgstore.ErrAlreadyDone) || !has("d2") {
		t.Fatalf("replayed delete of a then-missing document: %v, d2 kept: %v", err, has("d2"))
	}
	// One job spends only what it names: the same job id for another
	// document (two removals in one SQS message) still deletes.
	if err := del("jti-delete-1", "d2"); err != nil || has("d2") {
		t.Fatalf("same job, other document: %v, d2 still there: %v", err, has("d2"))
	}

	purge := func(job string) (int64, error) { return st.For(base.WithJob(job)).PurgeTenant(ctx) }
	if n, err := purge("jti-purge-1"); err != nil || n != 1 || has("d1") {
		t.Fatalf("purge: %d documents, %v", n, err)
	}
	ingest("d3", "after the purge")
	if _, err := purge("jti-purge-1"); !errors.Is(err, pgstore.ErrAlreadyDone) || !has("d3") {
		t.Fatalf("replayed purge: %v, d3 kept: %v", err, has("d3"))
	}
	ingest("d1", "after the purge too")
	if err := del("jti-delete-1", "d1"); !errors.Is(err, pgstore.ErrAlreadyDone) || !has("d1") {
		t.Fatalf("pre-purge delete replayed after the purge: %v, d1 kept: %v", err, has("d1"))
	}
	if n, err := purge("jti-purge-2"); err != nil || n != 2 {
		t.Fatalf("a new purge: %d documents, %v", n, err)
	}
}

// Precheck spares the download of a duplicate or superseded S3 event: the
// stored row alone decides. Nothing is fetched for the same event again or
// for an older one; a newer event, or a document that failed, is processed.
func TestPrecheckSkipsTheDownload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, p, f := setup(t)
	tenant := uuid.New()
	s := st.For(tenantdbtest.Scope(t, tenant))
	f["d1"] = "first content"
	if res, err := p.Ingest(ctx, s, doc(tenant, "d1", "0B")); err != nil || res.Claim != pipeline.ClaimProceed {
		t.Fatalf("first ingest: %+v, %v", res, err)
	}
	delete(f, "d1") // any download from here on fails
	for _, tc := range []struct {
		seq  string
		want pipeline.Claim
	}{{"0B", pipeline.ClaimDone}, {"0A", pipeline.ClaimStale}} {
		res, err := p.Ingest(ctx, s, doc(tenant, "d1", tc.seq))
		if err != nil || res.Claim != tc.want {
			t.Fatalf("event %s: %+v, %v; want claim %v without a download", tc.seq, res, err, tc.want)
		}
	}
	if got, err := s.Precheck(ctx, doc(tenant, "d1", "0C")); err != nil || got != pipeline.ClaimProceed {
		t.Fatalf("newer event: %v, %v", got, err)
	}
	if got, err := s.Precheck(ctx, doc(tenant, "other", "0A")); err != nil || got != pipeline.ClaimProceed {
		t.Fatalf("unknown document: %v, %v", got, err)
	}
	// A document whose last attempt failed is not "done" for that event.
	f["d2"] = "   "
	if _, err := p.Ingest(ctx, s, doc(tenant, "d2", "0A")); !pipeline.IsPermanent(err) {
		t.Fatalf("empty document: %v", err)
	}
	if got, err := s.Precheck(ctx, doc(tenant, "d2", "0A")); err != nil || got != pipeline.ClaimProceed {
		t.Fatalf("failed document, same event: %v, %v; want proceed", got, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestPermanentFailureIsRecordedNotRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, p, f := setup(t)
	tenant := uuid.New()
	scope := tenantdbtest.Scope(t, tenant)
	f["empty"] = "   "
	_, err := p.Ingest(ctx, st.For(scope), doc(tenant, "empty", ""))
	if !pipeline.IsPermanent(err) || pipeline.StageOf(err) != "extract" {
		t.Fatalf("got %v, want permanent extract failure", err)
	}
	docs, _ := st.For(scope).Documents(ctx)
	if len(docs) != 1 || docs[0].Status != "failed" || docs[0].Error != "empty_document" {
		t.Fatalf("failed document not recorded: %+v", docs)
	}
}

func TestSearchSeesOnlyTheScopedTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g, st, p, f := setupGateway(t)
	a, b := uuid.New(), uuid.New()
	f["shared"] = "the quarterly revenue report"
	for _, tn := range []uuid.UUID{a, b} {
		for i := 0; i < 30; i++ {
			id := "shared"
			if i > 0 {
				id = "filler-" + uuid.NewString()[:6]
				f[id] = "filler text number " + id
			}
			if _, err := p.Ingest(ctx, st.For(tenantdbtest.Scope(t, tn)), doc(tn, id, "")); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tn := range []uuid.UUID{a, b} {
		hits := searchTenant(t, g, tenantdbtest.Scope(t, tn), "quarterly revenue", 10)
		if len(hits) != 10 {
			t.Fatalf("got %d hits, want 10", len(hits))
		}
		if hits[0].DocumentID != "shared" {
			t.Errorf("best hit %q, want shared", hits[0].DocumentID)
		}
		for _, h := range hits {
			if !strings.Contains(h.SourceURI, tn.String()) {
				t.Errorf("tenant %s got a hit of another tenant: %s", tn, h.SourceURI)
			}
		}
	}
	// Purge one tenant; the other keeps everything.
	if n, err := st.For(tenantdbtest.Scope(t, a)).PurgeTenant(ctx); err != nil || n != 30 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	if docs, _ := st.For(tenantdbtest.Scope(t, b)).Documents(ctx); len(docs) != 30 {
		t.Fatalf("purging a removed b's documents: %d left", len(docs))
	}
	var _ tenantdb.Scope
}
