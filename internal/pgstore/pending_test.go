package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
)

// lineStream streams each line as a section, and cuts one chunk per section:
// the streaming stages in their smallest form, so these tests exercise the
// store's pending versions and the processor's batching.
type lineStream struct{ lineExtractor }

func (lineStream) ExtractTo(ctx context.Context, mt string, r io.Reader, size int64, sink pipeline.SectionSink) error {
	out, err := lineExtractor{}.Extract(ctx, mt, r, size)
	if err != nil {
		return err
	}
	for _, s := range out.Sections {
		if err := sink.Add(s); err != nil {
			return err
		}
	}
	return nil
}

type lineStreamChunker struct{ lineChunker }

type lineChunkStream struct {
	max   int
	n     int
	off   int
	first bool
	yield func(pipeline.Chunk) error
}

func (lineStreamChunker) Start(_ context.Context, max int, yield func(pipeline.Chunk) error) pipeline.ChunkStream {
	return &lineChunkStream{max: max, yield: yield, first: true}
}

func (s *lineChunkStream) Add(sec pipeline.Section) error {
	if !s.first {
		s.off += 2
	}
	s.first = false
	n := len([]rune(sec.Text))
	if n == 0 {
		return nil
	}
	ch := pipeline.Chunk{Ordinal: s.n, Text: sec.Text, TokenCount: len(strings.Fields(sec.Text)), CharStart: s.off, CharEnd: s.off + n}
	s.off += n
	s.n++
	if s.max > 0 && s.n > s.max {
		return pipeline.ErrTooLarge
	}
	return s.yield(ch)
}

func (s *lineChunkStream) Close() error {
	if s.n == 0 {
		return pipeline.ErrEmpty
	}
	return nil
}

// flakyEmbedder fails every call after the first okCalls (transient).
type flakyEmbedder struct {
	wordEmbedder
	calls   atomic.Int64
	okCalls int64
}

func (f *flakyEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if n := f.calls.Add(1); f.okCalls > 0 && n > f.okCalls {
		return nil, &pipeline.TransientError{Err: errors.New("throttled")}
	}
	return f.wordEmbedder.Embed(ctx, texts)
}

func lines(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s line %d words\n", prefix, i)
	}
	return b.String()
}

// state reads what search and the audit log see of one document.
type state struct {
	visible       int // chunks retrieval can join to a ready document
	stored        int // chunks of any version
	audits        int // audit rows about ingests of the document
	status, pendV string
}

func readState(t *testing.T, db pgstore.Gateway, scope tenantdb.Scope, id string) state {
	t.Helper()
	var s state
	err := db.WithTenant(context.Background(), scope, func(ctx context.Context, tx tenantdb.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM chunks c JOIN documents d
			ON d.tenant_id = c.tenant_id AND d.document_id = c.document_id AND d.version = c.version
			WHERE d.status = 'ready' AND c.document_id = $1`, id).Scan(&s.visible); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE document_id = $1`, id).Scan(&s.stored); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action LIKE 'document.%' AND action <> 'document.failed'
			AND detail LIKE '%"document_id":"' || $1 || '"%'`, id).Scan(&s.audits); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT status, pending_version FROM documents WHERE document_id = $1`, id).Scan(&s.status, &s.pendV)
		if errors.Is(err, tenantdb.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func write(p pipeline.Pending, ordinals ...int) error {
	cs, es := batch(ordinals...)
	return p.Write(context.Background(), cs, es)
}

func batch(ordinals ...int) ([]pipeline.Chunk, []pipeline.Embedding) {
	var cs []pipeline.Chunk
	var es []pipeline.Embedding
	for _, o := range ordinals {
		text := fmt.Sprintf("chunk %d text", o)
		cs = append(cs, pipeline.Chunk{Ordinal: o, Text: text, TokenCount: 3, CharStart: o * 20, CharEnd: o*20 + len(text)})
		v := must(wordEmbedder{}.Embed(context.Background(), []string{text}))[0]
		es = append(es, pipeline.Embedding{Vector: v, Model: "test-words"})
	}
	return cs, es
}

// TestPendingVersionIsInvisibleUntilTheFlip: batches of a new version are
// stored but neither search nor Documents sees them (the old version stays
// as it was); the flip shows the whole new version at once, removes the old
// one and appends exactly one audit row; an incomplete version cannot flip.
func TestPendingVersionIsInvisibleUntilTheFlip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.TestTx(t)
	st := pgstore.New(db, nil)
	tenant := uuid.New()
	scope := tenantdbtest.Scope(t, tenant)
	s := st.For(scope)
	v1 := doc(tenant, "d1", "0A")
	v1.Version = "sha256:v1"
	claim, p, err := s.Open(ctx, v1, "k")
	if err != nil || claim != pipeline.ClaimProceed {
		t.Fatalf("open v1: %v, %v", claim, err)
	}
	if err := write(p, 0, 1); err != nil {
		t.Fatal(err)
	}
	if got := readState(t, db, scope, "d1"); got.visible != 0 || got.stored != 2 || got.audits != 0 {
		t.Fatalf("pending new document: %+v, want 2 stored, none visible, no audit", got)
	}
	if docs, _ := s.Documents(ctx); len(docs) != 1 || docs[0].Chunks != 0 || docs[0].Status == "ready" {
		t.Fatalf("Documents shows the pending version: %+v", docs)
	}
	cs, es := batch(2)
	if err := p.Finish(ctx, cs, es, 4, "test-words"); err == nil {
		t.Fatal("an incomplete version (3 of 4 chunks) flipped")
	}
	if got := readState(t, db, scope, "d1"); got.visible != 0 {
		t.Fatalf("incomplete flip left chunks visible: %+v", got)
	}
	if err := p.Finish(ctx, cs, es, 3, "test-words"); err != nil {
		t.Fatal(err)
	}
	if got := readState(t, db, scope, "d1"); got.visible != 3 || got.stored != 3 || got.audits != 1 || got.status != "ready" || got.pendV != "" {
		t.Fatalf("after the flip: %+v", got)
	}

	// A second version: while pending, search sees no mix (the ready row
	// still names v1, so v2's batches never join).
	v2 := doc(tenant, "d1", "0B")
	v2.Version = "sha256:v2"
	_, p2, err := s.Open(ctx, v2, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := write(p2, 0, 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	var mixed int
	if err := db.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM chunks c JOIN documents d USING (tenant_id, document_id, version)
			WHERE c.version = 'sha256:v2'`).Scan(&mixed)
	}); err != nil || mixed != 0 {
		t.Fatalf("v2 chunks join the document before the flip: %d, %v", mixed, err)
	}
	if err := p2.Finish(ctx, nil, nil, 4, "test-words"); err != nil {
		t.Fatal(err)
	}
	if got := readState(t, db, scope, "d1"); got.visible != 4 || got.stored != 4 || got.audits != 2 {
		t.Fatalf("after the second flip: %+v, want v1 gone and 2 audit rows", got)
	}
}

// TestPendingVersionResumesOrDiscards: an attempt that died mid-document
// leaves its batches; a retry of the same bytes and key keeps them (only the
// rest is embedded), one with another key or other bytes discards them.
func TestPendingVersionResumesOrDiscards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.TestTx(t)
	s := pgstore.New(db, nil).For(tenantdbtest.Scope(t, uuid.New()))
	d := doc(uuid.New(), "d1", "")
	d.Version = "sha256:v1"
	_, p, err := s.Open(ctx, d, "key-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := write(p, 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := write(p, 4); err != nil { // batches finish out of order
		t.Fatal(err)
	}
	// The attempt dies here. A retry with the same key resumes.
	_, p, err = s.Open(ctx, d, "key-a")
	if err != nil {
		t.Fatal(err)
	}
	for o, want := range []bool{true, true, false, false, true} {
		if p.Stored(o) != want {
			t.Fatalf("resumed: Stored(%d) = %v, want %v", o, p.Stored(o), want)
		}
	}
	// A retry under another key (another model or chunking) starts over.
	_, p, err = s.Open(ctx, d, "key-b")
	if err != nil {
		t.Fatal(err)
	}
	if p.Stored(0) || p.Stored(4) {
		t.Fatal("a pending version of another key was resumed")
	}
	if err := write(p, 0); err != nil {
		t.Fatalf("write after discard: %v", err)
	}
	if err := p.Finish(ctx, nil, nil, 1, "test-words"); err != nil {
		t.Fatal(err)
	}
}

// TestPendingVersionFromTheAttackersSide: a second attempt at the same
// document (a duplicate delivery) takes the pending version over; the first
// can then write nothing, and its flip changes nothing. An older event's
// late flip never replaces a newer version. Another tenant's attempt at the
// same document id touches nothing of this tenant's.
func TestPendingVersionFromTheAttackersSide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.TestTx(t)
	st := pgstore.New(db, nil)
	tenant := uuid.New()
	scope := tenantdbtest.Scope(t, tenant)
	s := st.For(scope)
	d := doc(tenant, "d1", "0A")
	d.Version = "sha256:v1"
	_, a, err := s.Open(ctx, d, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := write(a, 0); err != nil {
		t.Fatal(err)
	}
	_, b, err := s.Open(ctx, d, "k") // the duplicate delivery
	if err != nil {
		t.Fatal(err)
	}
	if err := write(a, 1); !errors.Is(err, pgstore.ErrClaimLost) {
		t.Fatalf("superseded attempt wrote: %v, want ErrClaimLost", err)
	}
	if err := a.Finish(ctx, nil, nil, 1, "test-words"); !errors.Is(err, pgstore.ErrClaimLost) {
		t.Fatalf("superseded attempt flipped: %v, want ErrClaimLost", err)
	}
	if !b.Stored(0) {
		t.Fatal("the second attempt did not resume the first one's batch")
	}
	if err := b.Finish(ctx, nil, nil, 1, "test-words"); err != nil {
		t.Fatal(err)
	}
	if err := a.Finish(ctx, nil, nil, 1, "test-words"); err != nil {
		t.Fatalf("late flip of a duplicate: %v, want nil (already done)", err)
	}
	if got := readState(t, db, scope, "d1"); got.visible != 1 || got.audits != 1 {
		t.Fatalf("after duplicate attempts: %+v, want 1 chunk and 1 audit row", got)
	}

	// An older event (0A) still pending when a newer one (0B) flips.
	old := doc(tenant, "d2", "0A")
	old.Version = "sha256:old"
	_, po, err := s.Open(ctx, old, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := write(po, 0, 1); err != nil {
		t.Fatal(err)
	}
	newer := doc(tenant, "d2", "0B")
	newer.Version = "sha256:new"
	_, pn, err := s.Open(ctx, newer, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := pn.Finish(ctx, nil, nil, 0, "test-words"); err != nil {
		t.Fatal(err)
	}
	if err := po.Finish(ctx, nil, nil, 2, "test-words"); err != nil {
		t.Fatalf("stale flip: %v, want nil (dropped)", err)
	}
	_, version, err := s.Document(ctx, "d2")
	if err != nil {
		t.Fatal(err)
	}
	if got := readState(t, db, scope, "d2"); got.visible != 0 || got.stored != 0 {
		t.Fatalf("stale pending chunks survived the newer flip or became visible: %+v (status %s)", got, version)
	}

	// Another tenant, same document id: its own row, nothing of ours.
	other := tenantdbtest.Scope(t, uuid.New())
	_, po2, err := st.For(other).Open(ctx, d, "k")
	if err != nil {
		t.Fatal(err)
	}
	if po2.Stored(0) {
		t.Fatal("another tenant resumed this tenant's chunks")
	}
	if got := readState(t, db, scope, "d1"); got.visible != 1 {
		t.Fatalf("another tenant's claim changed this tenant's document: %+v", got)
	}
}

// TestStreamedIngest runs the processor's streaming path against the real
// store (its batches in concurrent transactions): the same result as a whole
// commit, idempotent on the content hash; a transient embedding failure
// mid-document leaves an invisible pending version, and the retry resumes
// it (embedding only what is missing) and flips it with one audit row.
func TestStreamedIngest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t).Open(t)
	st := pgstore.New(db, nil)
	tenant := uuid.New()
	scope := tenantdbtest.Scope(t, tenant)
	f := memFetcher{"big": lines("alpha", 100), "small": "one line only"}
	emb := &flakyEmbedder{}
	p := &pipeline.Processor{Fetcher: f, Extractor: lineStream{}, Chunker: lineStreamChunker{}, Embedder: emb,
		Limits: pipeline.Limits{EmbedBatch: 8, Parallel: 3, SpoolAbove: 512}}

	res, err := p.Ingest(ctx, st.For(scope), doc(tenant, "big", "0A"))
	if err != nil || res.Chunks != 100 || res.Claim != pipeline.ClaimProceed {
		t.Fatalf("streamed ingest: %+v, %v", res, err)
	}
	if got := readState(t, db, scope, "big"); got.visible != 100 || got.audits != 1 || got.pendV != "" {
		t.Fatalf("after streamed ingest: %+v", got)
	}
	if calls := emb.calls.Load(); calls != 13 {
		t.Fatalf("%d embed calls, want 13 batches of ≤8", calls)
	}
	res, err = p.Ingest(ctx, st.For(scope), doc(tenant, "big", "0A"))
	if err != nil || res.Claim != pipeline.ClaimDone {
		t.Fatalf("duplicate: %+v, %v", res, err)
	}
	if res, err = p.Ingest(ctx, st.For(scope), doc(tenant, "small", "")); err != nil || res.Chunks != 1 {
		t.Fatalf("small document: %+v, %v", res, err)
	}

	// A new version whose embedding fails after 5 batches.
	f["big"] = lines("beta", 100)
	emb.calls.Store(0)
	emb.okCalls = 5
	if _, err := p.Ingest(ctx, st.For(scope), doc(tenant, "big", "0B")); err == nil || pipeline.IsPermanent(err) {
		t.Fatalf("failing embedder: %v, want a transient failure", err)
	}
	got := readState(t, db, scope, "big")
	if got.visible != 0 || got.pendV == "" || got.stored <= 100 || got.audits != 1 {
		t.Fatalf("after a failure mid-document: %+v; want the pending version stored, nothing visible", got)
	}
	pendingStored := got.stored - 100
	emb.calls.Store(0)
	emb.okCalls = 0
	if res, err := p.Ingest(ctx, st.For(scope), doc(tenant, "big", "0B")); err != nil || res.Chunks != 100 {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	if want := int64((100 - pendingStored + 7) / 8); emb.calls.Load() > want+1 {
		t.Fatalf("retry embedded %d batches; %d chunks were already stored (want about %d)", emb.calls.Load(), pendingStored, want)
	}
	if got := readState(t, db, scope, "big"); got.visible != 100 || got.stored != 100 || got.audits != 2 || got.pendV != "" {
		t.Fatalf("after the resumed retry: %+v", got)
	}
	if hits := searchTenant(t, db, scope, "beta line", 5); len(hits) == 0 || !strings.HasPrefix(hits[0].Text, "beta") {
		t.Fatalf("search after the flip: %v", hits)
	}

	// A permanent failure mid-stream (the chunk cap) records the failure
	// and leaves no pending chunks behind.
	p.Limits.MaxChunks = 50
	f["big"] = lines("gamma", 100)
	if _, err := p.Ingest(ctx, st.For(scope), doc(tenant, "big", "0C")); !errors.Is(err, pipeline.ErrTooLarge) || pipeline.StageOf(err) != "chunk" {
		t.Fatalf("over the cap: %v (stage %q), want a permanent chunk failure", err, pipeline.StageOf(err))
	}
	if got := readState(t, db, scope, "big"); got.status != "failed" || got.pendV != "" || got.stored != 100 {
		t.Fatalf("after a permanent failure: %+v; want failed, the pending chunks dropped", got)
	}
}
