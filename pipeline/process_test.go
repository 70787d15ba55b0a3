package pipeline_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/tenantry/tenantry/pipeline"
)

// The fakes below are the smallest stages that let Processor.Ingest run in
// memory: every section is one chunk, every vector has one dimension.

type fetcher struct {
	body     string
	err      error
	chunkLen int // bytes per Read (0: all at once)
}

func (f fetcher) Fetch(_ context.Context, _ pipeline.Document, _ int64) (io.ReadCloser, error) {
	if f.err != nil {
		return nil, f.err
	}
	var r io.Reader = strings.NewReader(f.body)
	if f.chunkLen > 0 {
		r = &trickle{r: r, n: f.chunkLen}
	}
	return io.NopCloser(r), nil
}

// trickle returns at most n bytes per Read, as a network body does.
type trickle struct {
	r io.Reader
	n int
}

func (t *trickle) Read(p []byte) (int, error) { return t.r.Read(p[:min(len(p), t.n)]) }

type extractor struct{ got *string }

func (e extractor) Extract(_ context.Context, _ string, r io.Reader, size int64) (pipeline.Extracted, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return pipeline.Extracted{}, err
	}
	if int64(len(b)) != size {
		return pipeline.Extracted{}, errors.New("size does not match the bytes")
	}
	*e.got = string(b)
	var out pipeline.Extracted
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			out.Sections = append(out.Sections, pipeline.Section{Text: l})
		}
	}
	return out, nil
}

type chunker struct{}

func (chunker) Chunk(_ context.Context, e pipeline.Extracted) ([]pipeline.Chunk, error) {
	out := make([]pipeline.Chunk, len(e.Sections))
	for i, s := range e.Sections {
		out[i] = pipeline.Chunk{Ordinal: i, Text: s.Text, CharStart: 0, CharEnd: len(s.Text)}
	}
	return out, nil
}

type embedder struct{}

func (embedder) Model() string   { return "one" }
func (embedder) Dimensions() int { return 1 }
func (embedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t))}
	}
	return out, nil
}

type store struct {
	mu        sync.Mutex
	committed []pipeline.Chunk
	failed    string
	version   string
}

func (s *store) Claim(_ context.Context, d pipeline.Document) (pipeline.Claim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version = d.Version
	return pipeline.ClaimProceed, nil
}

func (s *store) Commit(_ context.Context, _ pipeline.Document, c []pipeline.Chunk, e []pipeline.Embedding) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(c) != len(e) {
		return errors.New("chunks and embeddings differ in number")
	}
	s.committed = c
	return nil
}

func (s *store) Fail(_ context.Context, _ pipeline.Document, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = reason
	return nil
}

func (s *store) Delete(context.Context, pipeline.Document) error { return nil }

// Ingest reads the whole object whatever size S3's HEAD announced (exact,
// stale in either direction, unknown) and however the body trickles in, and
// refuses an object over the byte limit, exactly at limit+1.
func TestIngestFetch(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("line of text\n", 300) // 3,900 bytes
	tests := []struct {
		name      string
		announced int64
		limit     int64
		chunkLen  int
		body      string
		reason    string // "" when it must succeed
	}{
		{name: "announced exactly", announced: int64(len(body)), body: body},
		{name: "unknown size", announced: 0, body: body},
		{name: "announced smaller (object replaced)", announced: 100, body: body, chunkLen: 7},
		{name: "announced larger", announced: 1 << 20, body: body},
		{name: "trickling body", announced: int64(len(body)), body: body, chunkLen: 1},
		{name: "exactly at the limit", announced: int64(len(body)), limit: int64(len(body)), body: body},
		{name: "one byte over the limit", announced: int64(len(body)), limit: int64(len(body)) - 1, body: body, reason: "document_too_large"},
		{name: "over the limit, announced small", announced: 10, limit: 1000, body: body, chunkLen: 13, reason: "document_too_large"},
		{name: "empty object", announced: 0, body: "", reason: "empty_document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got string
			st := &store{}
			p := &pipeline.Processor{Fetcher: fetcher{body: tt.body, chunkLen: tt.chunkLen}, Extractor: extractor{got: &got},
				Chunker: chunker{}, Embedder: embedder{}, Limits: pipeline.Limits{MaxBytes: tt.limit}}
			res, err := p.Ingest(context.Background(), st, pipeline.Document{DocumentID: "d", SizeBytes: tt.announced})
			if tt.reason != "" {
				if pipeline.Reason(err) != tt.reason || st.failed != tt.reason {
					t.Fatalf("got %v (recorded %q), want %s", err, st.failed, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.body {
				t.Fatalf("extractor saw %d bytes, want %d", len(got), len(tt.body))
			}
			sum := sha256.Sum256([]byte(tt.body))
			if want := "sha256:" + hex.EncodeToString(sum[:]); res.Version != want || st.version != want {
				t.Fatalf("version %q (claimed %q), want %q", res.Version, st.version, want)
			}
			if res.Chunks != 300 || len(st.committed) != 300 {
				t.Fatalf("chunks %d, committed %d", res.Chunks, len(st.committed))
			}
		})
	}
}

// A fetch error that is not a permanent class is returned for a retry and
// not recorded as a failed document.
func TestIngestFetchErrorIsRetried(t *testing.T) {
	t.Parallel()
	st := &store{}
	p := &pipeline.Processor{Fetcher: fetcher{err: errors.New("connection reset")}, Extractor: extractor{got: new(string)},
		Chunker: chunker{}, Embedder: embedder{}}
	_, err := p.Ingest(context.Background(), st, pipeline.Document{DocumentID: "d"})
	if err == nil || pipeline.IsPermanent(err) || pipeline.StageOf(err) != "fetch" || st.failed != "" {
		t.Fatalf("got %v (stage %q, recorded %q)", err, pipeline.StageOf(err), st.failed)
	}
}

// More chunks than Limits.MaxChunks fail the document as too large before
// anything is embedded or stored; a BoundedChunker is stopped at the first
// chunk past the cap, not after chunking the whole document.
func TestIngestMaxChunks(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("line\n", 1000)
	tests := []struct {
		name     string
		chunker  func(made *int) pipeline.Chunker
		max      int
		wantMade int // chunks the chunker made (-1: not counted)
	}{
		{"plain chunker, counted after", func(*int) pipeline.Chunker { return chunker{} }, 2, -1},
		{"bounded chunker, stops at the cap", func(made *int) pipeline.Chunker { return &boundedChunker{made: made} }, 2, 3},
		{"bounded chunker, default cap", func(made *int) pipeline.Chunker { return &boundedChunker{made: made} }, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &store{}
			made := 0
			p := &pipeline.Processor{Fetcher: fetcher{body: body}, Extractor: extractor{got: new(string)},
				Chunker: tt.chunker(&made), Embedder: embedder{}, Limits: pipeline.Limits{MaxChunks: tt.max}}
			_, err := p.Ingest(context.Background(), st, pipeline.Document{DocumentID: "d"})
			if tt.max == 0 { // 1000 chunks are under the default cap
				if err != nil || len(st.committed) != 1000 {
					t.Fatalf("got %v, committed %d", err, len(st.committed))
				}
				return
			}
			if pipeline.Reason(err) != "document_too_large" || st.failed != "document_too_large" || st.committed != nil {
				t.Fatalf("got %v (recorded %q, committed %d)", err, st.failed, len(st.committed))
			}
			if pipeline.StageOf(err) != "chunk" || !pipeline.IsPermanent(err) {
				t.Fatalf("stage %q, permanent %v", pipeline.StageOf(err), pipeline.IsPermanent(err))
			}
			if tt.wantMade >= 0 && made != tt.wantMade {
				t.Fatalf("chunker made %d chunks, want %d (cap %d)", made, tt.wantMade, tt.max)
			}
		})
	}
}

// boundedChunker makes one chunk per section and stops one past the cap.
type boundedChunker struct{ made *int }

func (c *boundedChunker) Chunk(ctx context.Context, e pipeline.Extracted) ([]pipeline.Chunk, error) {
	return c.ChunkAtMost(ctx, e, 0)
}

func (c *boundedChunker) ChunkAtMost(_ context.Context, e pipeline.Extracted, max int) ([]pipeline.Chunk, error) {
	var out []pipeline.Chunk
	for i, s := range e.Sections {
		*c.made++
		if max > 0 && i >= max {
			return nil, fmt.Errorf("%w: more than %d chunks", pipeline.ErrTooLarge, max)
		}
		out = append(out, pipeline.Chunk{Ordinal: i, Text: s.Text, CharEnd: len(s.Text)})
	}
	return out, nil
}

// prechecking is a store that answers Precheck with a fixed claim.
type prechecking struct {
	store
	answer   pipeline.Claim
	asked    int
	prechErr error
}

func (s *prechecking) Precheck(context.Context, pipeline.Document) (pipeline.Claim, error) {
	s.asked++
	return s.answer, s.prechErr
}

// countingFetcher counts downloads.
type countingFetcher struct {
	fetcher
	n *int
}

func (f countingFetcher) Fetch(ctx context.Context, d pipeline.Document, limit int64) (io.ReadCloser, error) {
	*f.n++
	return f.fetcher.Fetch(ctx, d, limit)
}

// A store that can precheck spares the download of an event that is already
// applied or superseded; it is not asked for events without a sequencer
// (jobs) or for forced reprocessing, and its error is retried like a claim's.
func TestIngestPrecheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		answer     pipeline.Claim
		err        error
		doc        pipeline.Document
		wantAsked  int
		wantFetch  int
		wantClaim  pipeline.Claim
		wantStage  string
		wantChunks int
	}{
		{name: "duplicate event", answer: pipeline.ClaimDone, doc: pipeline.Document{DocumentID: "d", Sequencer: "0A"},
			wantAsked: 1, wantClaim: pipeline.ClaimDone},
		{name: "superseded event", answer: pipeline.ClaimStale, doc: pipeline.Document{DocumentID: "d", Sequencer: "0A"},
			wantAsked: 1, wantClaim: pipeline.ClaimStale},
		{name: "new event", answer: pipeline.ClaimProceed, doc: pipeline.Document{DocumentID: "d", Sequencer: "0A"},
			wantAsked: 1, wantFetch: 1, wantClaim: pipeline.ClaimProceed, wantChunks: 2},
		{name: "job without sequencer", answer: pipeline.ClaimDone, doc: pipeline.Document{DocumentID: "d"},
			wantFetch: 1, wantClaim: pipeline.ClaimProceed, wantChunks: 2},
		{name: "forced reprocessing", answer: pipeline.ClaimDone, doc: pipeline.Document{DocumentID: "d", Sequencer: "0A", Force: true},
			wantFetch: 1, wantClaim: pipeline.ClaimProceed, wantChunks: 2},
		{name: "already prechecked by the caller", answer: pipeline.ClaimDone, doc: pipeline.Document{DocumentID: "d", Sequencer: "0A", Prechecked: true},
			wantFetch: 1, wantClaim: pipeline.ClaimProceed, wantChunks: 2},
		{name: "precheck fails", err: errors.New("database restarting"), doc: pipeline.Document{DocumentID: "d", Sequencer: "0A"},
			wantAsked: 1, wantStage: "claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fetches := 0
			st := &prechecking{answer: tt.answer, prechErr: tt.err}
			p := &pipeline.Processor{Fetcher: countingFetcher{fetcher: fetcher{body: "a\nb\n"}, n: &fetches},
				Extractor: extractor{got: new(string)}, Chunker: chunker{}, Embedder: embedder{}}
			res, err := p.Ingest(context.Background(), st, tt.doc)
			if tt.wantStage != "" {
				if err == nil || pipeline.StageOf(err) != tt.wantStage || pipeline.IsPermanent(err) {
					t.Fatalf("got %v, want a retryable %s error", err, tt.wantStage)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if st.asked != tt.wantAsked || fetches != tt.wantFetch || res.Claim != tt.wantClaim || len(st.committed) != tt.wantChunks {
				t.Fatalf("asked %d, fetched %d, claim %v, committed %d; want %d, %d, %v, %d",
					st.asked, fetches, res.Claim, len(st.committed), tt.wantAsked, tt.wantFetch, tt.wantClaim, tt.wantChunks)
			}
		})
	}
}

// A reprocessing pinned to a version ingests only bytes of that version: an
// object written over since is refused (permanent, source_changed), neither
// claimed nor recorded as failed, so the stored document stays as it was.
func TestIngestPinnedVersion(t *testing.T) {
	t.Parallel()
	body := "a\nb\n"
	sum := sha256.Sum256([]byte(body))
	same := "sha256:" + hex.EncodeToString(sum[:])
	for _, tc := range []struct {
		name, pin string
		wantErr   bool
	}{
		{"no pin", "", false},
		{"pinned to the fetched bytes", same, false},
		{"pinned to other bytes", "sha256:" + strings.Repeat("0", 64), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := &store{}
			p := &pipeline.Processor{Fetcher: fetcher{body: body}, Extractor: extractor{got: new(string)},
				Chunker: chunker{}, Embedder: embedder{}}
			_, err := p.Ingest(context.Background(), st, pipeline.Document{DocumentID: "d", Force: true, PinVersion: tc.pin})
			if !tc.wantErr {
				if err != nil || st.version != same || len(st.committed) == 0 {
					t.Fatalf("err %v, claimed %q, committed %d", err, st.version, len(st.committed))
				}
				return
			}
			if !errors.Is(err, pipeline.ErrSourceChanged) || !pipeline.IsPermanent(err) || pipeline.Reason(err) != "source_changed" {
				t.Fatalf("got %v, want permanent source_changed", err)
			}
			if st.version != "" || st.failed != "" || len(st.committed) != 0 {
				t.Fatalf("a refused reprocessing touched the store: claimed %q, failed %q, committed %d", st.version, st.failed, len(st.committed))
			}
		})
	}
}
