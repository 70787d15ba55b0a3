package extract

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"github.com/tenantry/tenantry/pipeline"
)

// docx extracts word/document.xml of a DOCX (Office Open XML) file:
// paragraphs as blocks, Heading1-9/Title/Subtitle styles and outline levels
// as heading sections, tables as rows of cells joined by " | ", tabs and
// breaks kept, deleted revisions and field codes dropped. Headers, footers,
// footnotes and comments are not extracted.
//
// The archive is read where it lies (source: the object itself when it
// can be read at an offset, else a temporary file), never from memory; its
// entry count is bounded by MaxEntries and the decompressed XML by
// MaxDecompressedBytes, counted while inflating (the sizes an archive declares are not trusted).
// The text is bounded by MaxTextBytes as it is read: inflating stops at the
// first text run past it (a zip bomb of text is refused after about
// MaxTextBytes of XML, not MaxDecompressedBytes), and no single XML token
// may be larger than MaxTextBytes (encoding/xml holds a whole token).
func (e *Extractor) docx(ctx context.Context, r *bufio.Reader, _ int64, _ map[string]string) (pipeline.Extracted, error) {
	return e.docxWhole(ctx, nil, r)
}

// docxWhole is docx reading orig where it lies when it can (see source).
func (e *Extractor) docxWhole(ctx context.Context, orig io.Reader, r *bufio.Reader) (pipeline.Extracted, error) {
	src, release, err := e.source(ctx, orig, r, e.cfg.MaxBytes, 0)
	if err != nil {
		return pipeline.Extracted{}, readErr("docx", err)
	}
	defer release()
	b := sectionBuilder{limit: e.cfg.MaxTextBytes, maxSections: e.cfg.MaxSections}
	if err := e.docxFrom(ctx, src, src.Size(), &b); err != nil {
		return pipeline.Extracted{}, err
	}
	return b.done(), nil
}

// docxTo is docx handing each section to emit as soon as its paragraph (or
// table) ends, reading the archive where it lies (see source) rather than
// from memory.
func (e *Extractor) docxTo(ctx context.Context, orig io.Reader, br *bufio.Reader, emit func(pipeline.Section) error) error {
	src, release, err := e.source(ctx, orig, br, e.cfg.MaxBytes, 0)
	if err != nil {
		return readErr("docx", err)
	}
	defer release()
	b := sectionBuilder{limit: e.cfg.MaxTextBytes, maxSections: e.cfg.MaxSections, emit: emit}
	if err := e.docxFrom(ctx, src, src.Size(), &b); err != nil {
		return err
	}
	return b.flush()
}

// docxFrom extracts the archive of n bytes in ra into b.
func (e *Extractor) docxFrom(ctx context.Context, ra io.ReaderAt, n int64, b *sectionBuilder) error {
	zr, err := zip.NewReader(ra, n)
	if err != nil {
		return malformed("docx", "not a ZIP archive")
	}
	if len(zr.File) > e.cfg.MaxEntries {
		return tooLarge("docx", "archive has more entries than MaxEntries")
	}
	var doc *zip.File
	for _, f := range zr.File {
		if f.Name == "word/document.xml" {
			if doc != nil {
				return malformed("docx", "duplicate word/document.xml")
			}
			doc = f
		}
	}
	if doc == nil {
		return malformed("docx", "no word/document.xml")
	}
	if doc.UncompressedSize64 > uint64(e.cfg.MaxDecompressedBytes) {
		return tooLarge("docx", "document.xml exceeds MaxDecompressedBytes")
	}
	rc, err := doc.Open()
	if err != nil {
		return malformed("docx", "unreadable document.xml")
	}
	defer rc.Close()
	var part io.Reader = rc
	if e.wrapPart != nil {
		part = e.wrapPart(part)
	}
	lr := &limitReader{r: ctxReader{ctx: ctx, r: part}, n: e.cfg.MaxDecompressedBytes}
	err = e.wordXML(ctx, lr, b)
	if err == nil || b.emitted(err) {
		return err
	}
	switch {
	case errors.Is(err, errInputLimit):
		return tooLarge("docx", "document.xml exceeds MaxDecompressedBytes")
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, errTooDeep):
		return malformed("docx", "nesting deeper than MaxNesting")
	case errors.Is(err, errOutputLimit), errors.Is(err, errSectionLimit):
		return err
	}
	return malformed("docx", "invalid document.xml")
}

// wordXML walks the WordprocessingML token stream into b.
func (e *Extractor) wordXML(ctx context.Context, r io.Reader, b *sectionBuilder) error {
	guard := &tokenGuard{r: r, max: e.cfg.MaxTextBytes + 64<<10}
	d := xml.NewDecoder(guard)
	guard.d = d
	d.Strict = true
	budget := textBudget{left: e.cfg.MaxTextBytes}
	var (
		depth   int
		para    strings.Builder
		heading bool
		inText  bool // inside w:t
		skip    int  // depth inside w:del, w:instrText, w:delText
		tables  []*docxTable
	)
	flushPara := func() error {
		text := para.String()
		para.Reset()
		h := heading
		heading = false
		if n := len(tables); n > 0 {
			t := tables[n-1]
			if t.cell.Len() > 0 {
				t.cell.WriteByte(' ')
			}
			t.cell.WriteString(text)
			return nil
		}
		if h {
			return b.heading(text)
		}
		return b.block(text)
	}
	for steps := 0; ; steps++ {
		if steps%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > e.cfg.MaxNesting {
				return errTooDeep
			}
			if skip > 0 {
				skip++
				continue
			}
			switch t.Name.Local {
			case "del", "delText", "instrText", "fldData":
				skip = 1
			case "p":
				para.Reset()
				heading = false
			case "t":
				inText = true
			case "tab", "ptab":
				para.WriteByte('\t')
			case "br", "cr":
				para.WriteByte('\n')
			case "noBreakHyphen":
				para.WriteByte('-')
			case "pStyle":
				if v := attr(t, "val"); isHeadingStyle(v) {
					heading = true
				}
			case "outlineLvl":
				heading = true
			case "tbl":
				tables = append(tables, &docxTable{})
			case "tc":
				if n := len(tables); n > 0 {
					tables[n-1].cell.Reset()
				}
			}
		case xml.EndElement:
			depth--
			if depth < 0 {
				return errors.New("unbalanced XML")
			}
			if skip > 0 {
				skip--
				continue
			}
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				if err := flushPara(); err != nil {
					return err
				}
			case "tc":
				if n := len(tables); n > 0 {
					tables[n-1].cells = append(tables[n-1].cells, collapseSpace(tables[n-1].cell.String()))
					tables[n-1].cell.Reset()
				}
			case "tr":
				if n := len(tables); n > 0 {
					tables[n-1].endRow()
				}
			case "tbl":
				n := len(tables)
				if n == 0 {
					continue
				}
				text := tables[n-1].rows.String()
				tables = tables[:n-1]
				if len(tables) > 0 { // a nested table lands in its cell
					para.WriteString(strings.ReplaceAll(text, "\n", " "))
					continue
				}
				if err := b.block(text); err != nil {
					return err
				}
			}
		case xml.CharData:
			if inText && skip == 0 {
				if err := budget.spend(len(t)); err != nil {
					return err
				}
				para.Write(t)
			}
		}
	}
	if depth != 0 {
		return errors.New("unbalanced XML")
	}
	return nil
}

// tokenGuard fails reads once the decoder has read max bytes past the start
// of the token it is in: encoding/xml buffers a whole token (a text run, an
// attribute), so an endless one would otherwise grow without bound.
type tokenGuard struct {
	r   io.Reader
	d   *xml.Decoder
	max int64
	n   int64 // bytes read
}

func (g *tokenGuard) Read(p []byte) (int, error) {
	if g.d != nil && g.n-g.d.InputOffset() > g.max {
		return 0, errOutputLimit
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	return n, err
}

type docxTable struct {
	rows  strings.Builder
	cells []string
	cell  strings.Builder
}

func (t *docxTable) endRow() {
	if len(t.cells) == 0 {
		return
	}
	if t.rows.Len() > 0 {
		t.rows.WriteByte('\n')
	}
	t.rows.WriteString(strings.Join(t.cells, " | "))
	t.cells = t.cells[:0]
}

func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func isHeadingStyle(v string) bool {
	v = strings.ToLower(strings.ReplaceAll(v, " ", ""))
	return strings.HasPrefix(v, "heading") || v == "title" || v == "subtitle"
}
