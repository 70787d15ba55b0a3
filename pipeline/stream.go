package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// ingestStream is Ingest for stages that stream (see Ingest): the object is
// hashed while it is read (kept in memory up to Limits.SpoolAbove, in an
// unlinked temporary file above it), claimed, then extracted, chunked,
// embedded and stored batch by batch into a pending version, up to
// Limits.Parallel batches at once, and flipped visible in one short
// transaction. Memory holds a block of text, the chunk being cut and the
// batches in flight, whatever the document's size.
func (p *Processor) ingestStream(ctx context.Context, store PendingStore, sx StreamExtractor, sc StreamChunker,
	doc Document, lim Limits, res Result, t time.Time) (Result, error) {
	lap := func(d *time.Duration) { now := time.Now(); *d += now.Sub(t); t = now }

	sctx, end := p.stage(ctx, "fetch", 0)
	src, err := spool(sctx, p.Fetcher, doc, lim)
	end(err)
	lap(&res.Timings.Fetch)
	if err != nil {
		return res, p.fail(ctx, store, doc, &StageError{"fetch", err})
	}
	defer src.Close()
	doc.Version = src.version
	doc.SizeBytes = src.size
	res.Version = doc.Version
	if doc.PinVersion != "" && doc.Version != doc.PinVersion {
		return res, &StageError{"fetch", ErrSourceChanged}
	}

	claim, pend, err := store.Open(ctx, doc, p.pendingKey())
	lap(&res.Timings.Claim)
	res.Claim = claim
	if err != nil {
		return res, &StageError{"claim", err}
	}
	if claim != ClaimProceed {
		return res, nil
	}

	r := &streamRun{p: p, pend: pend, lim: lim, sem: make(chan struct{}, lim.Parallel)}
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	defer r.cancel(nil)
	// Extraction and chunking interleave: one span covers both (the
	// chunker cuts as sections arrive); the batches get their own.
	xctx, endExtract := p.stage(r.ctx, "extract", 0)
	cs := sc.Start(xctx, lim.MaxChunks, r.yield)
	err = sx.ExtractTo(xctx, doc.MediaType, src.Reader(), src.size, chunkSink{cs})
	if err == nil {
		if err = cs.Close(); err != nil && StageOf(err) == "" {
			err = &StageError{"chunk", err}
		}
	} else if StageOf(err) == "" {
		err = &StageError{"extract", err}
	}
	endExtract(err)
	var tail []Chunk
	var tailEmb []Embedding
	if err == nil && len(r.batch) > 0 {
		if r.submitted {
			err = r.submit()
		} else {
			// The whole document is one batch: embed it here and write it
			// in the flip's transaction (one write, like Commit).
			tail = r.batch
			begin := time.Now()
			tailEmb, err = p.embedBatch(r.ctx, tail)
			r.addEmbed(time.Since(begin))
			if err != nil {
				err = &StageError{"embed", err}
			}
		}
	}
	if err != nil {
		r.stop(err) // the batches in flight stop too
	}
	r.wg.Wait()
	if first := r.failure(); first != nil {
		err = first // the cause, not the cancellation it spread
	}
	// The stages overlap: Extract is the stream's wall time (extract and
	// chunk, waiting for free batch slots included); Embed and Store are
	// the batches' busy time summed, which can exceed it.
	res.Timings.Embed, res.Timings.Store = r.embedDur, r.storeDur
	lap(&res.Timings.Extract)
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, p.fail(ctx, store, doc, err)
	}
	sctx, end = p.stage(ctx, "flip", len(tail))
	err = pend.Finish(sctx, tail, tailEmb, r.total, p.Embedder.Model())
	end(err)
	lap(&res.Timings.Store)
	if err != nil {
		return res, &StageError{"store", err}
	}
	res.Chunks = r.total
	return res, nil
}

// chunkSink hands extracted sections to the chunk stream, marking its own
// refusals (the chunk cap) as the chunk stage's.
type chunkSink struct{ cs ChunkStream }

func (s chunkSink) Add(sec Section) error {
	err := s.cs.Add(sec)
	if err != nil && StageOf(err) == "" && !errors.Is(err, context.Canceled) {
		return &StageError{"chunk", err}
	}
	return err
}

// streamRun is one document's chunks on their way to the pending version.
type streamRun struct {
	p      *Processor
	pend   Pending
	lim    Limits
	ctx    context.Context
	cancel context.CancelCauseFunc
	sem    chan struct{} // a slot per batch in flight
	wg     sync.WaitGroup

	batch     []Chunk
	total     int
	submitted bool

	mu                 sync.Mutex
	err                error
	embedDur, storeDur time.Duration
}

// yield takes the next chunk from the chunker.
func (r *streamRun) yield(ch Chunk) error {
	if err := r.failure(); err != nil {
		return err
	}
	r.total = ch.Ordinal + 1
	if r.pend.Stored(ch.Ordinal) {
		r.submitted = true // an earlier attempt wrote part of the version
		return nil
	}
	r.batch = append(r.batch, ch)
	if len(r.batch) < r.lim.EmbedBatch {
		return nil
	}
	return r.submit()
}

// submit sends the current batch to be embedded and written, waiting for a
// free slot (so extraction never runs more than Parallel batches ahead).
func (r *streamRun) submit() error {
	b := r.batch
	r.batch = make([]Chunk, 0, r.lim.EmbedBatch)
	select {
	case r.sem <- struct{}{}:
	case <-r.ctx.Done():
		if err := r.failure(); err != nil {
			return err
		}
		return r.ctx.Err()
	}
	r.submitted = true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() { <-r.sem }()
		begin := time.Now()
		embs, err := r.p.embedBatch(r.ctx, b)
		r.addEmbed(time.Since(begin))
		if err != nil {
			r.stop(&StageError{"embed", err})
			return
		}
		begin = time.Now()
		sctx, end := r.p.stage(r.ctx, "store", len(b))
		err = r.pend.Write(sctx, b, embs)
		end(err)
		r.mu.Lock()
		r.storeDur += time.Since(begin)
		r.mu.Unlock()
		if err != nil {
			r.stop(&StageError{"store", err})
		}
	}()
	return nil
}

func (r *streamRun) addEmbed(d time.Duration) {
	r.mu.Lock()
	r.embedDur += d
	r.mu.Unlock()
}

// stop records the first failure and cancels the rest of the run.
func (r *streamRun) stop(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	r.cancel(err)
}

func (r *streamRun) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// embedBatch embeds one batch of chunks.
func (p *Processor) embedBatch(ctx context.Context, chunks []Chunk) ([]Embedding, error) {
	sctx, end := p.stage(ctx, "embed", len(chunks))
	vecs, err := EmbedChunks(sctx, p.Embedder, chunks)
	end(err)
	if err != nil {
		return nil, err
	}
	out := make([]Embedding, len(vecs))
	model := p.Embedder.Model()
	for i, v := range vecs {
		out[i] = Embedding{Vector: v, Model: model}
	}
	return out, nil
}

// pendingKey names what a pending version's chunks depend on besides the
// bytes: the model, the stages' configuration, and the build.
func (p *Processor) pendingKey() string {
	key := "model=" + p.Embedder.Model()
	if f, ok := p.Chunker.(Fingerprinter); ok {
		key += ";chunk=" + f.Fingerprint()
	}
	if f, ok := p.Extractor.(Fingerprinter); ok {
		key += ";extract=" + f.Fingerprint()
	}
	return key + ";build=" + buildID()
}

var buildID = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return bi.Main.Path + "@" + bi.Main.Version
	}
	return rev + dirty
})

// spooled is a fetched object: its bytes in memory, or in an unlinked
// temporary file (gone with the process, even on kill -9).
type spooled struct {
	mem     []byte
	f       *os.File
	size    int64
	version string
}

// Reader reads the object from its start.
func (s *spooled) Reader() io.Reader {
	if s.f != nil {
		return io.NewSectionReader(s.f, 0, s.size)
	}
	return bytes.NewReader(s.mem)
}

func (s *spooled) Close() {
	if s.f != nil {
		name := s.f.Name()
		_ = s.f.Close()
		_ = os.Remove(name) // already unlinked where the system allows it
	}
}

// spool reads the object once, hashing it, into memory up to
// lim.SpoolAbove and into a temporary file in lim.SpoolDir beyond.
func spool(ctx context.Context, f Fetcher, doc Document, lim Limits) (_ *spooled, err error) {
	rc, err := f.Fetch(ctx, doc, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	s := &spooled{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	h := sha256.New()
	r := io.LimitReader(rc, lim.MaxBytes+1)
	hint := int64(0)
	if doc.SizeBytes > 0 && doc.SizeBytes <= lim.SpoolAbove {
		hint = doc.SizeBytes + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint+bytes.MinRead))
	var w io.Writer = buf
	block := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, rerr := r.Read(block)
		if n > 0 {
			h.Write(block[:n])
			s.size += int64(n)
			if s.size > lim.MaxBytes {
				return nil, fmt.Errorf("%w: object larger than %d bytes", ErrTooLarge, lim.MaxBytes)
			}
			if s.f == nil && s.size > lim.SpoolAbove {
				if s.f, err = os.CreateTemp(lim.SpoolDir, "tenantry-object-*"); err != nil {
					return nil, fmt.Errorf("spool: %w", err)
				}
				_ = os.Remove(s.f.Name()) // unlinked: the file lives while it is open
				if _, err := s.f.Write(buf.Bytes()); err != nil {
					return nil, fmt.Errorf("spool: %w", err)
				}
				buf = nil
				w = s.f
			}
			if _, err := w.Write(block[:n]); err != nil {
				return nil, fmt.Errorf("spool: %w", err)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return nil, rerr
		}
	}
	if buf != nil {
		s.mem = buf.Bytes()
	}
	s.version = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return s, nil
}
