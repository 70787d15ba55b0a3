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
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantry/tenantry/pipeline"
)

// Streaming fakes: every line is a section and a chunk.

type streamExtractor struct {
	extractor
	failAfter int   // sections handed over before failing with failErr (0: never)
	failErr   error // what extraction fails with
}

func (e streamExtractor) ExtractTo(ctx context.Context, mt string, r io.Reader, size int64, sink pipeline.SectionSink) error {
	out, err := e.Extract(ctx, mt, r, size)
	if err != nil {
		return err
	}
	for i, s := range out.Sections {
		if e.failAfter > 0 && i == e.failAfter {
			return e.failErr
		}
		if err := sink.Add(s); err != nil {
			return err
		}
	}
	return nil
}

type streamChunker struct{ chunker }

type chunkStream struct {
	n, max int
	yield  func(pipeline.Chunk) error
}

func (streamChunker) Start(_ context.Context, max int, yield func(pipeline.Chunk) error) pipeline.ChunkStream {
	return &chunkStream{max: max, yield: yield}
}

func (c *chunkStream) Add(s pipeline.Section) error {
	if c.max > 0 && c.n >= c.max {
		return fmt.Errorf("%w: cap", pipeline.ErrTooLarge)
	}
	c.n++
	return c.yield(pipeline.Chunk{Ordinal: c.n - 1, Text: s.Text, CharEnd: len(s.Text)})
}

func (c *chunkStream) Close() error {
	if c.n == 0 {
		return pipeline.ErrEmpty
	}
	return nil
}

// pendingStore records what the streaming path writes.
type pendingStore struct {
	store
	stored   map[int]bool // resumed ordinals
	writeErr error
	writes   atomic.Int64
	written  sync.Map // ordinal -> text
	finished []pipeline.Chunk
	total    int
	opened   string // key
}

func (s *pendingStore) Open(_ context.Context, d pipeline.Document, key string) (pipeline.Claim, pipeline.Pending, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version, s.opened = d.Version, key
	return pipeline.ClaimProceed, (*pendingOf)(s), nil
}

type pendingOf pendingStore

func (p *pendingOf) Stored(o int) bool { return p.stored[o] }
func (p *pendingOf) Write(_ context.Context, cs []pipeline.Chunk, es []pipeline.Embedding) error {
	if len(cs) != len(es) {
		return errors.New("chunks and embeddings differ in number")
	}
	if p.writeErr != nil {
		return p.writeErr
	}
	p.writes.Add(1)
	for _, c := range cs {
		if _, dup := p.written.LoadOrStore(c.Ordinal, c.Text); dup {
			return fmt.Errorf("chunk %d written twice", c.Ordinal)
		}
	}
	return nil
}
func (p *pendingOf) Finish(_ context.Context, cs []pipeline.Chunk, es []pipeline.Embedding, total int, model string) error {
	if len(cs) != len(es) || model != "one" {
		return errors.New("bad finish")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished, p.total = cs, total
	return nil
}

// barrierEmbedder holds the first n calls until n are in flight together
// (proof that batches run concurrently), counts calls and the most in
// flight, and fails calls after failAfter with err.
type barrierEmbedder struct {
	embedder
	n                 int
	arrived, inFlight atomic.Int64
	maxInFlight       atomic.Int64
	calls             atomic.Int64
	all               chan struct{}
	once              sync.Once
	failAfter         int64
	err               error
	texts             sync.Map
}

func newBarrier(n int) *barrierEmbedder { return &barrierEmbedder{n: n, all: make(chan struct{})} }

func (b *barrierEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	call := b.calls.Add(1)
	if b.failAfter > 0 && call > b.failAfter {
		return nil, b.err
	}
	in := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for m := b.maxInFlight.Load(); in > m && !b.maxInFlight.CompareAndSwap(m, in); m = b.maxInFlight.Load() {
	}
	if b.arrived.Add(1) >= int64(b.n) {
		b.once.Do(func() { close(b.all) })
	}
	select {
	case <-b.all:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for _, t := range texts {
		b.texts.Store(t, true)
	}
	return b.embedder.Embed(ctx, texts)
}

func numbered(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// TestIngestStreams: with streaming stages the document goes through in
// batches, Parallel of them at once (never more), every chunk written once,
// and the version flipped with the total; a document of one batch is
// written in the flip alone; the object is spooled to a file above
// SpoolAbove and hashed exactly as the whole path hashes it.
func TestIngestStreams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		lines, batch, par    int
		spoolAbove           int64
		wantWrites, wantTail int
	}{
		{name: "many batches, 3 in flight, spooled to a file", lines: 100, batch: 8, par: 3, spoolAbove: 64, wantWrites: 13},
		{name: "many batches in memory", lines: 40, batch: 4, par: 2, wantWrites: 10},
		{name: "one batch: written in the flip", lines: 5, batch: 8, par: 1, wantTail: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			body := numbered(tt.lines)
			st := &pendingStore{}
			emb := newBarrier(min(tt.par, tt.wantWrites+1))
			p := &pipeline.Processor{Fetcher: fetcher{body: body, chunkLen: 7}, Extractor: streamExtractor{extractor: extractor{got: new(string)}},
				Chunker: streamChunker{}, Embedder: emb, Limits: pipeline.Limits{EmbedBatch: tt.batch, Parallel: tt.par, SpoolAbove: tt.spoolAbove}}
			res, err := p.Ingest(ctx, st, pipeline.Document{DocumentID: "d"})
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(body))
			if want := "sha256:" + hex.EncodeToString(sum[:]); res.Version != want || st.version != want {
				t.Fatalf("version %q (opened %q), want %q", res.Version, st.version, want)
			}
			if res.Chunks != tt.lines || st.total != tt.lines {
				t.Fatalf("chunks %d, flipped with total %d; want %d", res.Chunks, st.total, tt.lines)
			}
			if got := int(st.writes.Load()); got != tt.wantWrites || len(st.finished) != tt.wantTail {
				t.Fatalf("%d batch writes and %d chunks in the flip; want %d and %d", got, len(st.finished), tt.wantWrites, tt.wantTail)
			}
			if m := emb.maxInFlight.Load(); m > int64(tt.par) {
				t.Fatalf("%d batches in flight, Parallel is %d", m, tt.par)
			}
			if !strings.Contains(st.opened, "model=one") {
				t.Fatalf("pending key %q does not name the model", st.opened)
			}
		})
	}
}

// TestIngestStreamResumes: chunks an earlier attempt stored are neither
// embedded nor written again, and still count in the total.
func TestIngestStreamResumes(t *testing.T) {
	t.Parallel()
	st := &pendingStore{stored: map[int]bool{}}
	for o := range 20 {
		st.stored[o] = true
	}
	emb := newBarrier(1)
	p := &pipeline.Processor{Fetcher: fetcher{body: numbered(30)}, Extractor: streamExtractor{extractor: extractor{got: new(string)}},
		Chunker: streamChunker{}, Embedder: emb, Limits: pipeline.Limits{EmbedBatch: 4, Parallel: 2}}
	res, err := p.Ingest(context.Background(), st, pipeline.Document{DocumentID: "d"})
	if err != nil || res.Chunks != 30 || st.total != 30 {
		t.Fatalf("resumed ingest: %+v, %v (total %d)", res, err, st.total)
	}
	for o := range 30 {
		_, embedded := emb.texts.Load(fmt.Sprintf("line %d", o))
		if embedded == (o < 20) {
			t.Fatalf("chunk %d embedded: %v (stored before: %v)", o, embedded, o < 20)
		}
	}
}

// TestIngestStreamFailures: every way the streaming path can fail is
// reported with its stage; a permanent failure is recorded with its reason
// (the pending version is the store's to drop), a transient one is left for
// the retry, the caller's cancellation records nothing, and nothing is
// flipped.
func TestIngestStreamFailures(t *testing.T) {
	t.Parallel()
	transient := &pipeline.TransientError{Err: errors.New("throttled")}
	tests := []struct {
		name      string
		ext       streamExtractor
		embFail   error
		writeErr  error
		maxChunks int
		cancel    bool
		stage     string
		reason    string // recorded with Fail ("" when not recorded)
	}{
		{name: "extraction refuses mid-document", ext: streamExtractor{failAfter: 30, failErr: fmt.Errorf("%w: bad", pipeline.ErrMalformed)},
			stage: "extract", reason: "malformed_document"},
		{name: "chunk cap", maxChunks: 25, stage: "chunk", reason: "document_too_large"},
		{name: "embedding rejected", embFail: pipeline.ErrRejected, stage: "embed", reason: "embedding_rejected"},
		{name: "embedding throttled", embFail: transient, stage: "embed"},
		{name: "store fails", writeErr: errors.New("connection reset"), stage: "store"},
		{name: "caller cancels", cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st := &pendingStore{writeErr: tt.writeErr}
			emb := newBarrier(1)
			if tt.embFail != nil {
				emb.failAfter, emb.err = 2, tt.embFail
			}
			if tt.cancel {
				emb.failAfter, emb.err = 1, context.Canceled
				cancel()
			}
			ext := tt.ext
			ext.extractor = extractor{got: new(string)}
			p := &pipeline.Processor{Fetcher: fetcher{body: numbered(100)}, Extractor: ext, Chunker: streamChunker{}, Embedder: emb,
				Limits: pipeline.Limits{EmbedBatch: 4, Parallel: 2, MaxChunks: tt.maxChunks}}
			_, err := p.Ingest(ctx, st, pipeline.Document{DocumentID: "d"})
			if err == nil {
				t.Fatal("ingest succeeded")
			}
			if tt.cancel {
				if !errors.Is(err, context.Canceled) || st.failed != "" {
					t.Fatalf("cancelled: %v (recorded %q), want context.Canceled and nothing recorded", err, st.failed)
				}
				return
			}
			if got := pipeline.StageOf(err); got != tt.stage {
				t.Fatalf("stage %q (%v), want %q", got, err, tt.stage)
			}
			if st.failed != tt.reason {
				t.Fatalf("recorded %q, want %q (%v)", st.failed, tt.reason, err)
			}
			if st.total != 0 {
				t.Fatal("a failed document was flipped")
			}
		})
	}
}
