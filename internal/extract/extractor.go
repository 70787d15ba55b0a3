package extract

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/yuin/goldmark/ast"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/pipeline"
)

// Config bounds what one document may cost.
type Config struct {
	// MaxBytes bounds the raw document (default 128 MiB).
	MaxBytes int64
	// MaxPages bounds a PDF's page count (default 2000).
	MaxPages int
	// MaxDecompressedBytes bounds what a document may expand to before
	// its text is taken out: a DOCX's main XML part after decompression,
	// and the decoded source of HTML and CSV (default 256 MiB).
	MaxDecompressedBytes int64
	// MaxTextBytes bounds the extracted text of any format, and the decoded
	// source of plain text and Markdown (which is their text). It is
	// enforced while reading: extraction stops at the first text node,
	// paragraph, row, page or 64 KiB block past it (default 80 MiB, or
	// MaxDecompressedBytes when that is lower). The default is derived from
	// the default chunk cap: 20000 chunks × 512 tokens × 8 bytes per token
	// (see chunk.Config.TextBytesFor) — more text than that cannot fit in
	// the chunks a document may have, so extracting it only wastes memory.
	MaxTextBytes int64
	// MaxSections bounds the sections of one document: headings (DOCX,
	// HTML, Markdown) and pages (PDF) (default 100000).
	MaxSections int
	// MaxNesting bounds element nesting in HTML, Markdown and DOCX
	// (default 256). HTML deeper than 512 open elements is also refused by
	// the parser itself.
	MaxNesting int
	// MaxEntries bounds the number of entries in a DOCX archive
	// (default 10000).
	MaxEntries int
	// Timeout bounds one extraction (default 2 minutes); for a PDF, the
	// clock starts once a PDFium instance is ready (waiting for a free one
	// or for the engine to start is not the document's fault). Hitting it
	// fails the document permanently (pipeline.ErrTooLarge); the caller's
	// own deadline or cancellation returns the context's error instead.
	Timeout time.Duration

	// SpoolDir is where a DOCX or PDF that is not read from memory or a
	// file section (an io.ReaderAt with a Size method) is copied while it is
	// read, and where HTML and Markdown above 1 MiB of decoded source keep
	// that source while they are parsed a segment at a time (with an HTML
	// document's raw bytes too, when they cannot be read at offsets): an
	// unlinked temporary file (default: the system's temporary directory).
	SpoolDir string

	// PDFConcurrency bounds PDFium instances running at once (default 2);
	// more PDFs wait for a free one.
	PDFConcurrency int
	// PDFMemoryBytes bounds one PDFium instance's WebAssembly memory
	// (default 1 GiB, rounded down to 64 KiB pages).
	PDFMemoryBytes int64
	// PDFCacheDir, when set, keeps wazero's compiled PDFium on disk: the
	// first start compiles it (~3 s, ~250 MB transient), later starts of
	// any process sharing the directory load it in ~0.1 s. Empty compiles
	// in memory at the first PDF of each process.
	PDFCacheDir string
	// PDFSeedDir, when set with PDFCacheDir, is a read-only compilation
	// cache made ahead of time (CompilePDFium, run when the container image
	// is built): its entries are copied into PDFCacheDir before the engine
	// first starts, so a fresh process loads PDFium instead of compiling it.
	// An entry made for other CPU features is not used (wazero compiles
	// then, as without a seed); a seed that cannot be read is logged and
	// skipped.
	PDFSeedDir string
}

const (
	defaultMaxBytes        = 128 << 20
	defaultMaxPages        = 2000
	defaultMaxDecompressed = 256 << 20
	defaultMaxText         = 80 << 20 // 20000 chunks × 512 tokens × 8 bytes
	defaultMaxSections     = 100000
	defaultMaxNesting      = 256
	defaultMaxEntries      = 10000
	defaultTimeout         = 2 * time.Minute
	defaultPDFConcurrency  = 2
	defaultPDFMemory       = 1 << 30
)

func (c Config) withDefaults() Config {
	if c.MaxBytes == 0 {
		c.MaxBytes = defaultMaxBytes
	}
	if c.MaxPages == 0 {
		c.MaxPages = defaultMaxPages
	}
	if c.MaxDecompressedBytes == 0 {
		c.MaxDecompressedBytes = defaultMaxDecompressed
	}
	if c.MaxTextBytes == 0 {
		c.MaxTextBytes = min(int64(defaultMaxText), c.MaxDecompressedBytes)
	}
	if c.MaxSections == 0 {
		c.MaxSections = defaultMaxSections
	}
	if c.MaxNesting == 0 {
		c.MaxNesting = defaultMaxNesting
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = defaultMaxEntries
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.PDFConcurrency == 0 {
		c.PDFConcurrency = defaultPDFConcurrency
	}
	if c.PDFMemoryBytes == 0 {
		c.PDFMemoryBytes = defaultPDFMemory
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.MaxBytes < 1:
		return fmt.Errorf("extract: MaxBytes %d must be positive", c.MaxBytes)
	case c.MaxPages < 1:
		return fmt.Errorf("extract: MaxPages %d must be positive", c.MaxPages)
	case c.MaxDecompressedBytes < 1:
		return fmt.Errorf("extract: MaxDecompressedBytes %d must be positive", c.MaxDecompressedBytes)
	case c.MaxTextBytes < 1:
		return fmt.Errorf("extract: MaxTextBytes %d must be positive", c.MaxTextBytes)
	case c.MaxSections < 1:
		return fmt.Errorf("extract: MaxSections %d must be positive", c.MaxSections)
	case c.MaxNesting < 1:
		return fmt.Errorf("extract: MaxNesting %d must be positive", c.MaxNesting)
	case c.MaxEntries < 1:
		return fmt.Errorf("extract: MaxEntries %d must be positive", c.MaxEntries)
	case c.Timeout < 0:
		return fmt.Errorf("extract: Timeout %v must not be negative", c.Timeout)
	case c.PDFConcurrency < 1:
		return fmt.Errorf("extract: PDFConcurrency %d must be positive", c.PDFConcurrency)
	case c.PDFMemoryBytes < 16<<20:
		return fmt.Errorf("extract: PDFMemoryBytes %d below 16 MiB", c.PDFMemoryBytes)
	}
	return nil
}

// Extractor implements pipeline.Extractor. It is safe for concurrent use;
// Close releases the PDF engine.
type Extractor struct {
	cfg Config
	log *zap.Logger
	pdf *pdfEngine

	// reference, when set (tests only), extracts as the extractor did
	// before page furniture and PDF running headers were removed: the
	// baseline of the fidelity measurements.
	reference bool

	// wrapPart, when set (tests only), wraps the decompressed reader of a
	// DOCX's document.xml, so a test can count what was inflated.
	wrapPart func(io.Reader) io.Reader

	// htmlStream, when set (tests only), replaces the thresholds of the
	// incremental HTML reader (htmlstream.go).
	htmlStream *htmlStreamConfig
	// htmlParsed, when set (tests only), is told how many bytes of source
	// each incremental HTML segment holds.
	htmlParsed func(int)
	// mdStream, when set (tests only), replaces the thresholds of the
	// incremental Markdown reader (mdstream.go).
	mdStream *mdStreamConfig
	// mdFirstPass, when set (tests only), is shown each tree the
	// incremental Markdown reader's first pass parses.
	mdFirstPass func(ast.Node)
}

var _ pipeline.Extractor = (*Extractor)(nil)

// New returns an Extractor. The PDF engine starts lazily, at the first PDF
// (or PreparePDF). A nil logger logs nothing.
func New(cfg Config, logger *zap.Logger) (*Extractor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Extractor{cfg: cfg, log: logger, pdf: newPDFEngine(cfg, logger)}, nil
}

// Config returns the configuration in effect (defaults applied).
func (e *Extractor) Config() Config { return e.cfg }

// PreparePDF starts the PDF engine now instead of at the first PDF.
func (e *Extractor) PreparePDF(ctx context.Context) error { return e.pdf.start(ctx) }

// Close stops the PDF engine. Extract must not be called after Close.
func (e *Extractor) Close() error { return e.pdf.close() }

// Extract reads one document of the given media type (as resolved by
// MediaType; parameters such as charset are honoured) from r. size is the
// object's size when known (<0: unknown). A missing or generic media type is
// sniffed from the first bytes.
func (e *Extractor) Extract(ctx context.Context, mediaType string, r io.Reader, size int64) (pipeline.Extracted, error) {
	orig := whole(r)
	base, params, br, err := e.open(mediaType, r, size)
	if err != nil {
		return pipeline.Extracted{}, err
	}
	parse := e.wholeParser(base)
	switch base { // read where they lie, not copied into memory
	case TypePDF:
		parse = func(ctx context.Context, br *bufio.Reader, size int64, params map[string]string) (pipeline.Extracted, error) {
			return e.pdfFrom(ctx, orig, br, size, params)
		}
	case TypeDOCX:
		parse = func(ctx context.Context, br *bufio.Reader, _ int64, _ map[string]string) (pipeline.Extracted, error) {
			return e.docxWhole(ctx, orig, br)
		}
	}
	if parse == nil {
		return pipeline.Extracted{}, unsupported("unknown", "unsupported media type")
	}
	format := formatName(base)

	var cancel context.CancelFunc
	if e.cfg.Timeout > 0 && base != TypePDF { // PDFs start the clock once PDFium is ready
		ctx, cancel = context.WithTimeoutCause(ctx, e.cfg.Timeout, errTimeLimit)
		defer cancel()
	}
	start := time.Now()
	out, err := e.guard(ctx, format, func() (pipeline.Extracted, error) {
		return parse(ctx, br, size, params)
	})
	if err != nil {
		err = classify(ctx, format, err)
		e.log.Debug("extract refused", zap.String("format", format), zap.Error(err), zap.Duration("took", time.Since(start)))
		return pipeline.Extracted{}, err
	}
	if !anyText(out) {
		return pipeline.Extracted{}, empty(format)
	}
	return out, nil
}

// open checks the declared size, wraps r in the MaxBytes limit and a
// buffer, and resolves the media type (aliases; a missing or generic type
// sniffed from the first bytes): the setup Extract and ExtractTo share.
func (e *Extractor) open(mediaType string, r io.Reader, size int64) (string, map[string]string, *bufio.Reader, error) {
	base, params := parseType(mediaType)
	if t, ok := aliases[base]; ok {
		base = t
	}
	if size > e.cfg.MaxBytes {
		return "", nil, nil, tooLarge(formatName(base), "document exceeds MaxBytes")
	}
	br := bufio.NewReaderSize(&limitReader{r: r, n: e.cfg.MaxBytes}, 64<<10)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return "", nil, nil, readErr(formatName(base), err)
	}
	if len(head) == 0 {
		return "", nil, nil, empty(formatName(base))
	}
	if generic(base) {
		base = sniff(head)
	}
	return base, params, br, nil
}

// wholeParser is the parser of a whole document of type base (nil: the
// type is not supported).
func (e *Extractor) wholeParser(base string) func(ctx context.Context, r *bufio.Reader, size int64, params map[string]string) (pipeline.Extracted, error) {
	switch base {
	case TypeText:
		return e.plain
	case TypeMarkdown:
		return e.markdown
	case TypeHTML:
		return e.html
	case TypeCSV, TypeTSV:
		comma := rune(0)
		if base == TypeTSV {
			comma = '\t'
		}
		return func(ctx context.Context, r *bufio.Reader, size int64, params map[string]string) (pipeline.Extracted, error) {
			return e.csv(ctx, r, size, params, comma)
		}
	case TypeDOCX:
		return e.docx
	case TypePDF:
		return e.pdfDoc
	case TypeRST, TypeAsciiDoc, TypeOrg:
		return e.lightMarkup(base)
	}
	if textual(base) {
		return e.plain // any other text/*: read as plain text
	}
	return nil
}

// guard runs parse, turning a panic into ErrMalformed.
func (e *Extractor) guard(ctx context.Context, format string, parse func() (pipeline.Extracted, error)) (out pipeline.Extracted, err error) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("extract: parser panicked", zap.String("format", format), zap.String("stack", string(debug.Stack())))
			out, err = pipeline.Extracted{}, malformed(format, "parser failed")
		}
	}()
	return parse()
}

// classify maps what a parser returned to the permanent classes, leaving
// the caller's own cancellation as it is (retry later).
func classify(ctx context.Context, format string, err error) error {
	var xe *Error
	switch {
	case errors.As(err, &xe):
		return err
	case errors.Is(context.Cause(ctx), errTimeLimit):
		return tooLarge(format, "extraction exceeded the time limit")
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, errInputLimit):
		return tooLarge(format, "document exceeds MaxBytes")
	case errors.Is(err, errOutputLimit):
		return tooLarge(format, "extracted text exceeds MaxTextBytes")
	case errors.Is(err, errSourceLimit):
		return tooLarge(format, "decoded source exceeds MaxDecompressedBytes")
	case errors.Is(err, errSectionLimit):
		return tooLarge(format, "more sections than MaxSections")
	case errors.Is(err, errBinary):
		return malformed(format, "binary content")
	}
	return err
}

func readErr(format string, err error) error {
	if errors.Is(err, errInputLimit) {
		return tooLarge(format, "document exceeds MaxBytes")
	}
	return err
}

func formatName(mediaType string) string {
	switch mediaType {
	case TypeText:
		return "text"
	case TypeRST, TypeAsciiDoc, TypeOrg:
		return "markup"
	case TypeMarkdown:
		return "markdown"
	case TypeHTML:
		return "html"
	case TypeCSV, TypeTSV:
		return "csv"
	case TypeDOCX:
		return "docx"
	case TypePDF:
		return "pdf"
	}
	if textual(mediaType) {
		return "text"
	}
	return "unknown"
}

func anyText(d pipeline.Extracted) bool {
	for _, s := range d.Sections {
		if hasText(s.Text) {
			return true
		}
	}
	return false
}

// errInputLimit is returned by limitReader past MaxBytes.
var errInputLimit = errors.New("input exceeds limit")

// limitReader returns errInputLimit once more than n bytes were asked for,
// so a document that is exactly at the limit still reads to io.EOF.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errInputLimit
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, errInputLimit
	}
	return n, err
}

// readAll reads the rest of r (bounded by the limitReader under it).
func readAll(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	var buf []byte
	if size > 0 {
		buf = make([]byte, 0, size+1)
	}
	b := make([]byte, 0, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := r.Read(b[:cap(b)])
		buf = append(buf, b[:n]...)
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ctxReader fails reads once ctx is done, so a streaming parser stops.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
