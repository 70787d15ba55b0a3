package extract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"

	"github.com/tenantry/tenantry/pipeline"
)

// Markdown read incrementally (ExtractTo). A source of up to
// mdStream.above bytes is parsed whole, as Extract parses it. A larger one is
// cut into segments at ATX headings in the first column (no list item,
// quote or indented block can hold such a line; a fenced code block or an
// HTML block can): a segment of at least mdStream.segment bytes is parsed
// together with the heading line that ends it, and the cut is taken only
// when goldmark made that line the document's last block, a heading of its
// own — so every block before it was closed by it, exactly as in the whole
// parse. A cut goldmark refuses (the line is inside a code or HTML block) is
// tried again once the segment has doubled. Link reference definitions are
// the one thing a later line changes about an earlier one (whether
// "[text][label]" is a link): when the source has any ("]:"), a first pass
// collects them from every segment and each segment is parsed knowing them
// all. The walker (its sections, the text budget) runs on across segments.
// The decoded source is not held: past mdStream.above bytes it is spooled to
// an unlinked temporary file (Config.SpoolDir) as it is decoded, and read
// back line by line: a pass for the nesting depth and whether there are
// reference definitions, then the segments (twice when there are). What is
// held is one segment's source and tree (a segment holds whole lines), the
// reference definitions and the cut offsets.
type mdStreamConfig struct {
	above   int // sources up to this many bytes are parsed whole
	segment int // source parsed at a time, at least
}

var defaultMDStream = mdStreamConfig{above: 1 << 20, segment: 64 << 10}

func (e *Extractor) markdownTo(ctx context.Context, r *bufio.Reader, params map[string]string, emit func(pipeline.Section) error) error {
	sc := defaultMDStream
	if e.mdStream != nil {
		sc = *e.mdStream
	}
	above := int64(sc.above)
	src := &spill{dir: e.cfg.SpoolDir, above: above}
	defer src.close()
	err := decodeTextTo(ctx, r, params["charset"], e.cfg.MaxTextBytes, func(s string) error {
		_, err := src.WriteString(s)
		return err
	})
	if err != nil {
		return err
	}
	if p, ok := src.held(); ok && src.size() <= above {
		text := string(p)
		if markdownDepth(text) > e.cfg.MaxNesting {
			return malformed("markdown", "nesting deeper than MaxNesting")
		}
		out, err := e.markdownSource(ctx, text)
		return emitAll(out, err, emit)
	}
	return e.markdownStreamed(ctx, src.readerAt(), sc, emit)
}

// markdownStreamed reads a spooled source a segment at a time.
func (e *Extractor) markdownStreamed(ctx context.Context, src sizedReaderAt, sc mdStreamConfig, emit func(pipeline.Section) error) error {
	depth, refs := 0, false
	err := newLineReader(sourceReader(ctx, src)).each(func(line []byte) error {
		depth = max(depth, lineDepth(line))
		refs = refs || bytes.Contains(line, []byte("]:")) // "]:" cannot span lines
		return nil
	})
	if err != nil {
		return err
	}
	if depth > e.cfg.MaxNesting {
		return malformed("markdown", "nesting deeper than MaxNesting")
	}
	w := &mdWalker{ctx: ctx, max: e.cfg.MaxNesting, b: sectionBuilder{limit: e.cfg.MaxTextBytes, maxSections: e.cfg.MaxSections, emit: emit}}
	walk := func(doc ast.Node, seg []byte) error {
		w.src = seg
		if err := w.blocks(doc, 0); err != nil {
			if errors.Is(err, errTooDeep) {
				return malformed("markdown", "nesting deeper than MaxNesting")
			}
			return err
		}
		return nil
	}
	if !refs {
		err := mdSegments(ctx, src, sc.segment, func(doc ast.Node, _ []parser.Reference, seg []byte, _ int64) error {
			return walk(doc, seg)
		})
		if err != nil {
			return err
		}
		return w.b.flush()
	}
	// First pass: where to cut, and the reference definitions of every
	// segment; then each segment again, knowing them all.
	defs := []parser.Reference{}
	var cuts []int64
	err = mdSegments(ctx, src, sc.segment, func(doc ast.Node, found []parser.Reference, _ []byte, end int64) error {
		if e.mdFirstPass != nil {
			e.mdFirstPass(doc)
		}
		for _, r := range found {
			// Copied: a definition as the parser found it is a node of its
			// segment's tree, and would hold the whole tree.
			defs = append(defs, parser.NewReference(bytes.Clone(r.Label()), bytes.Clone(r.Destination()), bytes.Clone(r.Title())))
		}
		cuts = append(cuts, end)
		return nil
	})
	if err != nil {
		return err
	}
	in := sourceReader(ctx, src)
	var seg []byte
	start := int64(0)
	for _, end := range cuts {
		seg = slices.Grow(seg[:0], int(end-start))[:end-start]
		start = end
		if _, err := io.ReadFull(in, seg); err != nil {
			return err
		}
		doc, _, err := parseMarkdown(ctx, seg, defs)
		if err != nil {
			return err
		}
		if err := walk(doc, seg); err != nil {
			return err
		}
	}
	return w.b.flush()
}

// mdSegments cuts src into segments (see mdStreamConfig) and calls walk
// with each one's tree, the reference definitions it holds (nodes of that
// tree: walk copies what it keeps), and where it ends. seg is reused once
// walk returns.
func mdSegments(ctx context.Context, src sizedReaderAt, size int, walk func(doc ast.Node, defs []parser.Reference, seg []byte, end int64) error) error {
	var seg []byte // the segment so far, up to pos
	pos := int64(0)
	try := size // the length at which a cut is next tried
	cut := false
	err := newLineReader(sourceReader(ctx, src)).each(func(line []byte) error {
		before := len(seg)
		seg = append(seg, line...)
		pos += int64(len(line))
		if before < try || !atxLine(line) {
			return nil
		}
		doc, defs, err := parseMarkdown(ctx, seg, nil)
		if err != nil {
			return err
		}
		if !endsWithHeading(doc, before) {
			try = 2 * before
			return nil
		}
		if err := walk(doc, defs, seg, pos); err != nil {
			return err
		}
		seg, try, cut = seg[:0], size, true
		return nil
	})
	if err != nil {
		return err
	}
	if len(seg) > 0 || !cut {
		doc, defs, err := parseMarkdown(ctx, seg, nil)
		if err != nil {
			return err
		}
		return walk(doc, defs, seg, pos)
	}
	return nil
}

// lineReader reads lines, each with its "\n" (the last may have none); a
// line is valid until the next call.
type lineReader struct {
	r    *bufio.Reader
	long []byte // a line longer than r's buffer
}

func newLineReader(r *bufio.Reader) *lineReader { return &lineReader{r: r} }

// each calls fn with every line in order, until the last or fn's error.
func (l *lineReader) each(fn func(line []byte) error) error {
	for {
		line, err := l.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(line); err != nil {
			return err
		}
	}
}

// next returns the next line, or io.EOF after the last.
func (l *lineReader) next() ([]byte, error) {
	line, err := l.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		l.long = append(l.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = l.r.ReadSlice('\n')
			l.long = append(l.long, line...)
		}
		line = l.long
	}
	if errors.Is(err, io.EOF) && len(line) > 0 {
		err = nil
	}
	return line, err
}

// atxLine reports a line that is an ATX heading if it starts a block: one
// to six '#' in the first column, then a space, a tab or the line's end.
func atxLine(line []byte) bool {
	n := leading(line, '#')
	if n == 0 || n > 6 {
		return false
	}
	if n == len(line) {
		return true
	}
	switch line[n] {
	case ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// endsWithHeading reports whether the document's last block is a heading
// on the line starting at offset at.
func endsWithHeading(doc ast.Node, at int) bool {
	h, ok := doc.LastChild().(*ast.Heading)
	if !ok || h.Lines().Len() == 0 {
		return false
	}
	return h.Lines().At(0).Start >= at
}
