package extract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klippa-app/go-pdfium"
	pdferrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/pipeline"
)

// pdfEngine runs PDFium compiled to WebAssembly on wazero. PDFium is
// compiled once per process, lazily (the expensive part: ~3 s and ~250 MB of
// transient memory, or ~0.1 s when PDFCacheDir holds it already or
// PDFSeedDir brings it, see pdfcache.go). There are
// PDFConcurrency slots; each owns a small wazero runtime sharing the compiled
// code, and every document gets a fresh module instance (~2 ms), so nothing
// of one tenant's document survives into the next.
//
// At a deadline the slot's context is cancelled, which stops PDFium mid-call
// (wazero checks it in loops and calls); the slot's runtime is then thrown
// away and rebuilt from the compiled code for the next document. Only a
// CancelFunc crosses goroutines, never go-pdfium's own state.
type pdfEngine struct {
	cfg Config
	log *zap.Logger

	slots chan *pdfSlot

	mu       sync.Mutex // serialises building slots and closing
	cache    wazero.CompilationCache
	compiled bool
	closed   bool
}

type pdfSlot struct {
	pool   pdfium.Pool
	cancel context.CancelFunc
}

func newPDFEngine(cfg Config, log *zap.Logger) *pdfEngine {
	p := &pdfEngine{cfg: cfg, log: log, slots: make(chan *pdfSlot, cfg.PDFConcurrency)}
	for range cfg.PDFConcurrency {
		p.slots <- &pdfSlot{}
	}
	return p
}

var errEngineClosed = errors.New("extract: PDF engine closed")

// start builds one slot now (compiling PDFium), instead of at the first PDF.
func (p *pdfEngine) start(ctx context.Context) error {
	s, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	p.release(s, false)
	return nil
}

// acquire takes a free slot, building its runtime when it has none.
func (p *pdfEngine) acquire(ctx context.Context) (*pdfSlot, error) {
	var s *pdfSlot
	select {
	case s = <-p.slots:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if s.pool != nil {
		return s, nil
	}
	if err := p.build(ctx, s); err != nil {
		p.slots <- s
		return nil, err
	}
	return s, nil
}

func (p *pdfEngine) build(ctx context.Context, s *pdfSlot) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errEngineClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	begin := time.Now()
	var before map[string]int64 // the cache directory's entries before the first start
	seeded := 0
	if p.cache == nil {
		if dir := p.cfg.PDFCacheDir; dir != "" {
			var err error
			before, err = cacheEntries(dir)
			if p.cfg.PDFSeedDir != "" {
				if err == nil {
					seeded, err = seedPDFCache(p.cfg.PDFSeedDir, dir, before)
				}
				if err != nil {
					// Not fatal: PDFium is compiled here instead.
					p.log.Warn("PDF compile seed not used", zap.String("seed", p.cfg.PDFSeedDir), zap.Error(err))
				}
			}
			c, err := wazero.NewCompilationCacheWithDir(dir)
			if err != nil {
				return fmt.Errorf("extract: PDF compilation cache: %w", err)
			}
			p.cache = c
		} else {
			if p.cfg.PDFSeedDir != "" {
				p.log.Warn("PDF compile seed not used: no PDF cache directory", zap.String("seed", p.cfg.PDFSeedDir))
			}
			p.cache = wazero.NewCompilationCache()
		}
	}
	rc := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
		WithCloseOnContextDone(true). // cancelling the slot stops PDFium mid-call
		WithMemoryLimitPages(uint32(min(p.cfg.PDFMemoryBytes/65536, 65536))).
		WithCompilationCache(p.cache)
	slotCtx, cancel := context.WithCancel(context.Background())
	pool, err := webassembly.Init(webassembly.Config{
		Context:       slotCtx,
		MaxTotal:      1,
		ReuseWorkers:  false,                // a fresh instance per document
		FSConfig:      wazero.NewFSConfig(), // no file system at all
		RuntimeConfig: rc,
		Stdout:        io.Discard,
		Stderr:        io.Discard,
	})
	if err != nil {
		cancel()
		return fmt.Errorf("extract: start PDF engine: %w", err)
	}
	s.pool, s.cancel = pool, cancel
	if !p.compiled {
		p.compiled = true
		// compiled: wazero wrote code to the cache directory (the seed and
		// the directory had none for this CPU), or there is no directory.
		compiled := true
		if before != nil {
			after, _ := cacheEntries(p.cfg.PDFCacheDir)
			compiled = false
			for rel := range after {
				if _, ok := before[rel]; !ok {
					compiled = true
				}
			}
		}
		if compiled {
			// Compiling leaves a few hundred MB of garbage: hand it back now.
			debug.FreeOSMemory()
		}
		p.log.Info("PDF engine ready", zap.Duration("took", time.Since(begin)), zap.Bool("compiled", compiled),
			zap.Bool("disk_cache", p.cfg.PDFCacheDir != ""), zap.Int("seeded", seeded))
	}
	return nil
}

// release returns a slot; a slot whose runtime was cancelled is emptied
// first, to be rebuilt by its next user.
func (p *pdfEngine) release(s *pdfSlot, broken bool) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if (broken || closed) && s.pool != nil {
		s.cancel()
		_ = s.pool.Close()
		s.pool, s.cancel = nil, nil
	}
	p.slots <- s
}

// close waits for every slot to come back and closes its runtime.
func (p *pdfEngine) close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	var err error
	for range p.cfg.PDFConcurrency {
		s := <-p.slots
		if s.pool != nil {
			s.cancel()
			err = errors.Join(err, s.pool.Close())
			s.pool = nil
		}
		defer func() { p.slots <- s }()
	}
	if p.cache != nil {
		err = errors.Join(err, p.cache.Close(context.Background()))
	}
	return err
}

// pdfDoc extracts the text of each page as one section with its page
// number, in a fresh PDFium instance that is stopped at the deadline.
func (e *Extractor) pdfDoc(ctx context.Context, r *bufio.Reader, size int64, params map[string]string) (pipeline.Extracted, error) {
	return e.pdfFrom(ctx, nil, r, size, params)
}

// pdfFrom is pdfDoc reading orig where it lies when it can (see source).
func (e *Extractor) pdfFrom(ctx context.Context, orig io.Reader, r *bufio.Reader, size int64, params map[string]string) (pipeline.Extracted, error) {
	var out pipeline.Extracted
	err := e.pdfTo(ctx, orig, r, size, params, func(s pipeline.Section) error {
		out.Sections = append(out.Sections, s)
		return nil
	})
	if err != nil {
		return pipeline.Extracted{}, err
	}
	return out, nil
}

// pdfTo hands each page's text to emit as soon as PDFium produced it; the
// time emit takes does not count against the extraction deadline (it is the
// rest of the pipeline working on the pages so far). PDFium reads the
// document where it lies (orig when it is an io.ReaderAt with a Size, else a
// temporary copy: source), block by block as it needs them, through
// FPDF_LoadCustomDocument: the bytes are never held whole, in Go or in the
// WebAssembly memory.
func (e *Extractor) pdfTo(ctx context.Context, orig io.Reader, r *bufio.Reader, _ int64, _ map[string]string, emit func(pipeline.Section) error) error {
	head, err := r.Peek(1024)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return readErr("pdf", err)
	}
	if i := bytes.Index(head, []byte("%PDF-")); i < 0 {
		return malformed("pdf", "no PDF header")
	}
	ra, release, err := e.source(ctx, orig, r, e.cfg.MaxBytes, 0)
	if err != nil {
		return readErr("pdf", err)
	}
	defer release()
	src := &pdfSource{}
	src.r.Store(io.NewSectionReader(ra, 0, ra.Size()))
	// go-pdfium keeps the reader in a process-wide table until the
	// document or the instance is closed; a killed instance may not get
	// there, so the table then holds this empty shell, not the file.
	defer src.r.Store(nil)
	slot, err := e.pdf.acquire(ctx)
	if err != nil {
		return err
	}
	inst, err := slot.pool.GetInstanceWithContext(ctx)
	if err != nil {
		e.pdf.release(slot, true)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("extract: PDF instance: %w", err)
	}
	ctx, budget := withBudget(ctx, e.cfg.Timeout)
	defer budget.stop()
	// Pages are handed over in runs of pdfHandOver bytes of text: most
	// PDFs' whole text is far smaller than a PDFium instance, so it is
	// handed over after the instance is closed and the two never hold
	// memory at once; a PDF with more text streams in runs of that size.
	var held []pipeline.Section
	var heldBytes int
	handOver := budget.exclude(func(pipeline.Section) error {
		for i, s := range held {
			held[i] = pipeline.Section{}
			if err := emit(s); err != nil {
				return err
			}
		}
		held, heldBytes = held[:0], 0
		return nil
	})
	collect := func(s pipeline.Section) error {
		held = append(held, s)
		heldBytes += len(s.Text)
		if heldBytes < pdfHandOver {
			return nil
		}
		return handOver(pipeline.Section{})
	}
	// The watchdog cancels the slot's runtime when ctx ends.
	var stopped atomic.Bool
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			stopped.Store(true)
			slot.cancel()
		case <-done:
		}
	}()
	err = e.pdfPages(ctx, inst, src, ra.Size(), collect)
	close(done)
	wg.Wait()
	_ = inst.Close()
	e.pdf.release(slot, stopped.Load())
	if stopped.Load() || ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil && errors.Is(context.Cause(ctx), errTimeLimit) {
		return tooLarge("pdf", "extraction exceeded the time limit")
	}
	if err != nil {
		return err
	}
	return handOver(pipeline.Section{})
}

// pdfSource is the document as PDFium reads it, detachable once done.
type pdfSource struct {
	r atomic.Pointer[io.SectionReader]
}

var errPDFDetached = errors.New("extract: PDF source closed")

func (p *pdfSource) Read(b []byte) (int, error) {
	r := p.r.Load()
	if r == nil {
		return 0, errPDFDetached
	}
	return r.Read(b)
}

func (p *pdfSource) Seek(off int64, whence int) (int64, error) {
	r := p.r.Load()
	if r == nil {
		return 0, errPDFDetached
	}
	return r.Seek(off, whence)
}

// pdfHandOver is how much page text pdfTo holds before handing it over
// while the PDFium instance still runs.
const pdfHandOver = 16 << 20

// emitPanic marks a panic of emit (the rest of the pipeline), which is
// re-raised rather than blamed on the PDF.
type emitPanic struct{ v any }

func (e *Extractor) pdfPages(ctx context.Context, inst pdfium.Pdfium, src *pdfSource, size int64, emit func(pipeline.Section) error) (err error) {
	defer func() {
		// A killed instance can fail in ways go-pdfium does not expect.
		if p := recover(); p != nil {
			if ep, ok := p.(emitPanic); ok {
				panic(ep.v)
			}
			if ctx.Err() != nil {
				err = ctx.Err()
				return
			}
			err = malformed("pdf", "PDF engine failed")
		}
	}()
	doc, err := inst.OpenDocument(&requests.OpenDocument{FileReader: src, FileReaderSize: size})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(err, pdferrors.ErrPassword):
			return unsupported("pdf", "encrypted (password required)")
		case errors.Is(err, pdferrors.ErrSecurity):
			return unsupported("pdf", "unsupported security handler")
		}
		return malformed("pdf", "not a readable PDF")
	}
	defer func() {
		if ctx.Err() == nil {
			_, _ = inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document})
		}
	}()
	pc, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		return e.pdfErr(ctx, "page count unreadable")
	}
	if pc.PageCount > e.cfg.MaxPages {
		return tooLarge("pdf", "more pages than MaxPages")
	}
	var total int64
	clean := e.pageCleaner()
	for i := 0; i < pc.PageCount; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		text, err := pdfPageText(inst, doc.Document, i)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// One broken page does not lose the others.
			e.log.Debug("pdf: page unreadable", zap.Int("page", i+1))
			continue
		}
		total += int64(len(text))
		if total > e.cfg.MaxTextBytes {
			return tooLarge("pdf", "extracted text exceeds MaxTextBytes")
		}
		// Pages leave the cleaner up to its lookahead late (running
		// headers are told by the pages around them).
		for _, s := range clean.Push(i+1, text) {
			if err := emitGuarded(emit, s); err != nil {
				return err
			}
		}
	}
	for _, s := range clean.Flush() {
		if err := emitGuarded(emit, s); err != nil {
			return err
		}
	}
	return nil
}

// emitGuarded calls emit, marking a panic in it as emit's own.
func emitGuarded(emit func(pipeline.Section) error, s pipeline.Section) error {
	defer func() {
		if p := recover(); p != nil {
			panic(emitPanic{p})
		}
	}()
	return emit(s)
}

func (e *Extractor) pdfErr(ctx context.Context, reason string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return malformed("pdf", reason)
}

// pdfPageText returns one page's text, normalised like plain text.
func pdfPageText(inst pdfium.Pdfium, doc references.FPDF_DOCUMENT, index int) (string, error) {
	page, err := inst.FPDF_LoadPage(&requests.FPDF_LoadPage{Document: doc, Index: index})
	if err != nil {
		return "", err
	}
	defer func() { _, _ = inst.FPDF_ClosePage(&requests.FPDF_ClosePage{Page: page.Page}) }()
	tp, err := inst.FPDFText_LoadPage(&requests.FPDFText_LoadPage{Page: requests.Page{ByReference: &page.Page}})
	if err != nil {
		return "", err
	}
	defer func() { _, _ = inst.FPDFText_ClosePage(&requests.FPDFText_ClosePage{TextPage: tp.TextPage}) }()
	cc, err := inst.FPDFText_CountChars(&requests.FPDFText_CountChars{TextPage: tp.TextPage})
	if err != nil {
		return "", err
	}
	if cc.Count <= 0 {
		return "", nil
	}
	txt, err := inst.FPDFText_GetText(&requests.FPDFText_GetText{TextPage: tp.TextPage, StartIndex: 0, Count: cc.Count})
	if err != nil {
		return "", err
	}
	return normalisePDFText(txt.Text), nil
}

// normalisePDFText turns PDFium's "\r\n" line ends into "\n", drops NUL and
// other control characters, and trims each line's trailing spaces.
func normalisePDFText(s string) string {
	d := &textDecoder{enc: encUTF8, out: &strings.Builder{}, limit: int64(len(s)) + 1}
	d.out.Grow(len(s))
	for _, r := range s {
		d.rune(r)
	}
	lines := strings.Split(d.out.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
