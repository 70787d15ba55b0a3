package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// Fetcher reads the raw bytes of a document (an S3 GetObject). It must honour
// ctx and return at most limit+1 bytes so oversize objects are detected.
type Fetcher interface {
	Fetch(ctx context.Context, doc Document, limit int64) (io.ReadCloser, error)
}

// Claim is what a Store answers before the expensive stages run.
type Claim int

const (
	// ClaimProceed: this version must be processed.
	ClaimProceed Claim = iota
	// ClaimDone: this version is already stored (a duplicate delivery).
	ClaimDone
	// ClaimStale: a newer event for this document was already applied.
	ClaimStale
)

// Store persists one tenant's documents. A Store value is bound to one
// verified tenant scope; each method runs one short transaction.
type Store interface {
	// Claim records that doc (at doc.Version) is being processed, unless it is
	// already stored or a newer event was applied.
	Claim(ctx context.Context, doc Document) (Claim, error)
	// Commit atomically replaces the document's chunks with chunks (one per
	// embedding), marks it ready and writes the audit row.
	Commit(ctx context.Context, doc Document, chunks []Chunk, embeddings []Embedding) error
	// Fail marks the document failed with a reason code and audits it.
	Fail(ctx context.Context, doc Document, reason string) error
	// Delete removes the document and its chunks and audits it (no-op if a
	// newer event was applied or the document does not exist).
	Delete(ctx context.Context, doc Document) error
}

// Prechecker is implemented by Stores that can tell from the stored document
// alone, before the object is fetched, that an S3 event needs no work: a
// duplicate delivery or an out-of-order event then costs one small read, not
// a download of the object.
type Prechecker interface {
	// Precheck answers ClaimDone when the stored document is ready and came
	// from doc's event (the same doc.Sequencer), ClaimStale when a newer
	// event was applied, and ClaimProceed otherwise.
	Precheck(ctx context.Context, doc Document) (Claim, error)
}

// Limits bound one document's processing.
type Limits struct {
	MaxBytes   int64 // raw object size (default 64 MiB)
	MaxChunks  int   // chunks per document (default 20000)
	EmbedBatch int   // texts per Embed call (default 64)
	// Parallel bounds the batches of one document embedded and stored at
	// once when the stages stream (default 4); the embedder's own limiter
	// and per-tenant fairness still apply to every batch.
	Parallel int
	// SpoolAbove: a streamed object larger than this is kept in an
	// unlinked temporary file in SpoolDir (default: the system's) while it
	// is processed, not in memory (default 8 MiB).
	SpoolAbove int64
	SpoolDir   string
}

// WithDefaults returns l with every unset limit at its default: the one
// place limit defaults live (the SQS worker and the Step Functions tasks
// both apply it).
func (l Limits) WithDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 64 << 20
	}
	if l.MaxChunks <= 0 {
		l.MaxChunks = 20000
	}
	if l.EmbedBatch <= 0 {
		l.EmbedBatch = 64
	}
	if l.Parallel <= 0 {
		l.Parallel = 4
	}
	if l.SpoolAbove <= 0 {
		l.SpoolAbove = 8 << 20
	}
	return l
}

// Timings is the wall time spent in each stage of one Ingest.
type Timings struct {
	Fetch, Claim, Extract, Chunk, Embed, Store time.Duration
}

// Result describes what Ingest did.
type Result struct {
	Claim   Claim
	Version string
	Chunks  int
	Timings Timings
}

// Processor runs fetch → claim → extract → chunk → embed → store+audit for
// one verified document. Network calls (fetch, embed) never happen inside a
// database transaction: the Store opens a short one to claim and one to commit.
type Processor struct {
	Fetcher   Fetcher
	Extractor Extractor
	Chunker   Chunker
	Embedder  Embedder
	Limits    Limits
	// Observer, if set, is told of every stage of every document (tracing
	// spans: internal/telemetry.Stages).
	Observer StageObserver
}

// StageObserver watches the stages of a document: StageStart is called as a
// stage begins (fetch, extract, chunk, embed (per batch), store (per batch),
// flip) with the number of items it works on (chunks; 0 if not known), and
// the function it returns as the stage ends, with the stage's error.
// Implementations must not keep or log anything of ctx's document.
type StageObserver interface {
	StageStart(ctx context.Context, stage string, items int) (context.Context, func(error))
}

// stage starts observing one stage.
func (p *Processor) stage(ctx context.Context, name string, items int) (context.Context, func(error)) {
	if p.Observer == nil {
		return ctx, func(error) {}
	}
	return p.Observer.StageStart(ctx, name, items)
}

// ErrStage wraps failures with the stage they happened in.
type StageError struct {
	Stage string // fetch, claim, extract, chunk, embed, store
	Err   error
}

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// StageOf returns the stage a failure happened in ("" if unknown).
func StageOf(err error) string {
	var se *StageError
	if errors.As(err, &se) {
		return se.Stage
	}
	return ""
}

// Ingest processes doc. doc.Version is set from the content hash of the
// fetched bytes. When the extractor, the chunker and the store all stream
// (StreamExtractor, StreamChunker, PendingStore), the document flows through
// in bounded batches into a pending version (memory does not grow with the
// document); otherwise it is processed whole and committed at once. A permanent failure (see IsPermanent) is also recorded with
// store.Fail before it is returned.
func (p *Processor) Ingest(ctx context.Context, store Store, doc Document) (Result, error) {
	lim := p.Limits.WithDefaults()
	var res Result
	t := time.Now()
	lap := func(d *time.Duration) { now := time.Now(); *d += now.Sub(t); t = now }

	if pc, ok := store.(Prechecker); ok && doc.Sequencer != "" && !doc.Force && !doc.Prechecked {
		claim, err := pc.Precheck(ctx, doc)
		lap(&res.Timings.Claim)
		if err != nil {
			return res, &StageError{"claim", err}
		}
		if claim != ClaimProceed {
			res.Claim = claim
			return res, nil
		}
	}

	sx, okx := p.Extractor.(StreamExtractor)
	sc, okc := p.Chunker.(StreamChunker)
	if ps, ok := store.(PendingStore); ok && okx && okc {
		return p.ingestStream(ctx, ps, sx, sc, doc, lim, res, t)
	}

	sctx, end := p.stage(ctx, "fetch", 0)
	raw, err := p.fetch(sctx, doc, lim.MaxBytes)
	end(err)
	lap(&res.Timings.Fetch)
	if err != nil {
		return res, p.fail(ctx, store, doc, &StageError{"fetch", err})
	}
	sum := sha256.Sum256(raw)
	doc.Version = "sha256:" + hex.EncodeToString(sum[:])
	doc.SizeBytes = int64(len(raw))
	res.Version = doc.Version
	if doc.PinVersion != "" && doc.Version != doc.PinVersion {
		// Not recorded with store.Fail: the stored version is still good.
		return res, &StageError{"fetch", ErrSourceChanged}
	}

	claim, err := store.Claim(ctx, doc)
	lap(&res.Timings.Claim)
	res.Claim = claim
	if err != nil {
		return res, &StageError{"claim", err}
	}
	if claim != ClaimProceed {
		return res, nil
	}

	sctx, end = p.stage(ctx, "extract", 0)
	text, err := p.Extractor.Extract(sctx, doc.MediaType, bytesReader(raw), int64(len(raw)))
	end(err)
	lap(&res.Timings.Extract)
	if err != nil {
		return res, p.fail(ctx, store, doc, &StageError{"extract", err})
	}
	// The cap bites while chunking (a BoundedChunker stops at chunk
	// MaxChunks+1), so a document far over it costs no more than one at it.
	sctx, end = p.stage(ctx, "chunk", 0)
	chunks, err := ChunkAtMost(sctx, p.Chunker, text, lim.MaxChunks)
	lap(&res.Timings.Chunk)
	if err == nil && len(chunks) == 0 {
		err = ErrEmpty
	}
	end(err)
	if err != nil {
		return res, p.fail(ctx, store, doc, &StageError{"chunk", err})
	}
	embeddings, err := p.embed(ctx, chunks, lim.EmbedBatch)
	lap(&res.Timings.Embed)
	if err != nil {
		return res, p.fail(ctx, store, doc, &StageError{"embed", err})
	}
	sctx, end = p.stage(ctx, "store", len(chunks))
	err = store.Commit(sctx, doc, chunks, embeddings)
	end(err)
	lap(&res.Timings.Store)
	if err != nil {
		return res, &StageError{"store", err}
	}
	res.Chunks = len(chunks)
	return res, nil
}

func (p *Processor) fetch(ctx context.Context, doc Document, limit int64) ([]byte, error) {
	rc, err := p.Fetcher.Fetch(ctx, doc, limit)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Read into a buffer of the announced size (S3 HEAD's), plus the room
	// bytes.Buffer wants free before each read, so a large object is not
	// copied through doubling buffers (io.ReadAll's growth briefly holds
	// about twice the object); it still grows if the object is larger.
	size := int64(0)
	if doc.SizeBytes > 0 {
		size = min(doc.SizeBytes, limit) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(rc, limit+1)); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%w: object larger than %d bytes", ErrTooLarge, limit)
	}
	return raw, nil
}

func (p *Processor) embed(ctx context.Context, chunks []Chunk, batch int) ([]Embedding, error) {
	out := make([]Embedding, 0, len(chunks))
	for i := 0; i < len(chunks); i += batch {
		e, err := p.embedBatch(ctx, chunks[i:min(i+batch, len(chunks))])
		if err != nil {
			return nil, err
		}
		out = append(out, e...)
	}
	return out, nil
}

// fail records permanent failures in the store and returns err unchanged.
func (p *Processor) fail(ctx context.Context, store Store, doc Document, err error) error {
	if !IsPermanent(err) {
		return err
	}
	if doc.Version == "" {
		doc.Version = "unknown"
	}
	if ferr := store.Fail(ctx, doc, Reason(err)); ferr != nil {
		return errors.Join(err, &StageError{"store", ferr})
	}
	return err
}

// PendingStore is a Store that writes a version in batches before making it
// visible: a large document's chunks are stored as they are embedded, each
// batch in its own short transaction, and one final short transaction flips
// the document to them. Until then search sees the previous state.
type PendingStore interface {
	Store
	// Open claims doc as Claim does and, when the answer is ClaimProceed,
	// takes doc's pending version for this attempt. key names what the
	// chunks depend on besides the bytes (model, chunking, build): a pending
	// version left by an earlier attempt with the same bytes and key is
	// resumed (Pending.Stored), any other is discarded.
	Open(ctx context.Context, doc Document, key string) (Claim, Pending, error)
}

// Pending is one attempt's pending version of a document.
type Pending interface {
	// Stored reports whether an earlier attempt already stored the chunk
	// with this ordinal (it is not embedded or written again).
	Stored(ordinal int) bool
	// Write stores a batch of chunks with their embeddings (invisible).
	Write(ctx context.Context, chunks []Chunk, embeddings []Embedding) error
	// Finish writes a last batch (may be empty), checks that the version
	// has total chunks, makes it the document's visible version, removes
	// the previous one and audits it, in one short transaction.
	Finish(ctx context.Context, chunks []Chunk, embeddings []Embedding, total int, model string) error
}

// Fingerprinter is implemented by stages whose output depends on their
// configuration (a chunker's sizes): the fingerprint becomes part of a
// pending version's key, so a retry under another configuration starts over.
type Fingerprinter interface {
	Fingerprint() string
}
