package extract

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/pipeline"
)

var _ pipeline.StreamExtractor = (*Extractor)(nil)

// ExtractTo is Extract handing the sections to sink as it reads
// (pipeline.StreamExtractor), with the same limits and refusals. Plain text
// is handed over in blocks of about 64 KiB (continuation sections: chunk
// offsets are those of one section), CSV in blocks of rows, a PDF page by
// page; HTML and Markdown above 1 MiB of source are parsed a segment at a
// time (htmlstream.go, mdstream.go; smaller ones whole), DOCX as its XML
// is read, reStructuredText, AsciiDoc and Org line by line, and each
// section is handed over once it is complete (a long body in continuation
// pieces). A DOCX or PDF is read where it lies when r is an io.ReaderAt with
// a Size method, else from a temporary file (Config.SpoolDir), never from
// memory whole; the decoded source of HTML and Markdown above 1 MiB is kept
// in such a file while it is parsed, not in memory. The time sink takes does not count against Config.Timeout.
// It stops at the first error sink returns and returns it unchanged.
func (e *Extractor) ExtractTo(ctx context.Context, mediaType string, r io.Reader, size int64, sink pipeline.SectionSink) error {
	orig := whole(r)
	base, params, br, err := e.open(mediaType, r, size)
	if err != nil {
		return err
	}
	format := formatName(base)
	text := false
	var sinkErr error
	emit := func(s pipeline.Section) error {
		if !text && hasText(s.Text) {
			text = true
		}
		if err := sink.Add(s); err != nil {
			sinkErr = err
			return err
		}
		return nil
	}
	var parse func(ctx context.Context, emit func(pipeline.Section) error) error
	plain := func(ctx context.Context, emit func(pipeline.Section) error) error {
		first := true
		return decodeTextTo(ctx, br, params["charset"], e.cfg.MaxTextBytes, func(s string) error {
			sec := pipeline.Section{Text: s, Cont: !first}
			first = false
			return emit(sec)
		})
	}
	switch base {
	case TypeText:
		parse = plain
	case TypePDF:
		parse = func(ctx context.Context, emit func(pipeline.Section) error) error {
			return e.pdfTo(ctx, orig, br, size, params, emit)
		}
	case TypeCSV, TypeTSV:
		comma := rune(0)
		if base == TypeTSV {
			comma = '\t'
		}
		parse = func(ctx context.Context, emit func(pipeline.Section) error) error {
			return e.csvTo(ctx, br, params, comma, emit)
		}
	case TypeHTML:
		parse = func(ctx context.Context, emit func(pipeline.Section) error) error {
			return e.htmlTo(ctx, orig, br, params, emit)
		}
	case TypeMarkdown:
		parse = func(ctx context.Context, emit func(pipeline.Section) error) error {
			return e.markdownTo(ctx, br, params, emit)
		}
	case TypeRST, TypeAsciiDoc, TypeOrg:
		parse = func(ctx context.Context, emit func(pipeline.Section) error) error {
			return e.lightMarkupTo(ctx, base, br, size, params, emit)
		}
	case TypeDOCX:
		parse = func(ctx context.Context, emit func(pipeline.Section) error) error {
			return e.docxTo(ctx, orig, br, emit)
		}
	default:
		if !textual(base) {
			return unsupported("unknown", "unsupported media type")
		}
		parse = plain // any other text/*: read as plain text, as Extract does
	}
	if base != TypePDF { // PDFs keep their own clock (it starts once PDFium is ready)
		var b *budget
		ctx, b = withBudget(ctx, e.cfg.Timeout)
		defer b.stop()
		emit = b.exclude(emit)
	}
	start := time.Now()
	_, err = e.guard(ctx, format, func() (pipeline.Extracted, error) {
		return pipeline.Extracted{}, parse(ctx, emit)
	})
	if err != nil {
		if sinkErr != nil && errors.Is(err, sinkErr) {
			return err
		}
		err = classify(ctx, format, err)
		e.log.Debug("extract refused", zap.String("format", format), zap.Error(err), zap.Duration("took", time.Since(start)))
		return err
	}
	if !text {
		return empty(format)
	}
	return nil
}

// emitAll hands over the sections of a whole parse, letting each go once
// handed over.
func emitAll(out pipeline.Extracted, err error, emit func(pipeline.Section) error) error {
	if err != nil {
		return err
	}
	for i := range out.Sections {
		s := out.Sections[i]
		out.Sections[i] = pipeline.Section{}
		if err := emit(s); err != nil {
			return err
		}
	}
	return nil
}

// budget is a deadline that counts only the extractor's own time: the clock
// stops while the sink works on what was handed over.
type budget struct {
	mu      sync.Mutex
	timer   *time.Timer
	left    time.Duration
	started time.Time
	paused  bool
	done    bool
	cancel  context.CancelCauseFunc
}

// withBudget returns ctx cancelled with errTimeLimit once d of running time
// passed (d <= 0: never).
func withBudget(ctx context.Context, d time.Duration) (context.Context, *budget) {
	ctx, cancel := context.WithCancelCause(ctx)
	b := &budget{left: d, started: time.Now(), cancel: cancel}
	if d > 0 {
		b.timer = time.AfterFunc(d, func() { cancel(errTimeLimit) })
	}
	return ctx, b
}

func (b *budget) pause() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer == nil || b.paused || b.done {
		return
	}
	b.paused = true
	if b.timer.Stop() {
		b.left -= time.Since(b.started)
	}
}

func (b *budget) resume() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer == nil || !b.paused || b.done {
		return
	}
	b.paused = false
	b.started = time.Now()
	b.timer.Reset(max(b.left, 0))
}

// stop ends the budget and releases its context.
func (b *budget) stop() {
	b.mu.Lock()
	b.done = true
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
	b.cancel(context.Canceled)
}

// exclude wraps emit so its time does not count.
func (b *budget) exclude(emit func(pipeline.Section) error) func(pipeline.Section) error {
	return func(s pipeline.Section) error {
		b.pause()
		defer b.resume()
		return emit(s)
	}
}
