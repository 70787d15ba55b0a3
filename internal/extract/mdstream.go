package extract

import (
	"bufio"
	"context"
	"errors"
	"strings"

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
// all. The walker (its sections, the text budget) runs on across segments;
// the decoded source is held, one segment's tree at a time.
type mdStreamConfig struct {
	above   int // sources up to this many bytes are parsed whole
	segment int // source parsed at a time, at least
}

var defaultMDStream = mdStreamConfig{above: 1 << 20, segment: 64 << 10}

func (e *Extractor) markdownTo(ctx context.Context, r *bufio.Reader, size int64, params map[string]string, emit func(pipeline.Section) error) error {
	src, err := decodeText(ctx, r, params["charset"], size, e.cfg.MaxTextBytes)
	if err != nil {
		return err
	}
	if markdownDepth(src) > e.cfg.MaxNesting {
		return malformed("markdown", "nesting deeper than MaxNesting")
	}
	sc := defaultMDStream
	if e.mdStream != nil {
		sc = *e.mdStream
	}
	if len(src) <= sc.above {
		out, err := e.markdownSource(ctx, src)
		return emitAll(out, err, emit)
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
	if !strings.Contains(src, "]:") {
		err := mdSegments(ctx, src, sc.segment, func(doc ast.Node, _ []parser.Reference, seg []byte, _ int) error {
			return walk(doc, seg)
		})
		if err != nil {
			return err
		}
		return w.b.flush()
	}
	// First pass: where to cut, and the reference definitions of every
	// segment; then each segment again, knowing them all.
	refs := []parser.Reference{}
	var cuts []int
	err = mdSegments(ctx, src, sc.segment, func(_ ast.Node, defs []parser.Reference, _ []byte, end int) error {
		refs = append(refs, defs...)
		cuts = append(cuts, end)
		return nil
	})
	if err != nil {
		return err
	}
	start := 0
	for _, end := range cuts {
		seg := []byte(src[start:end])
		start = end
		doc, _, err := parseMarkdown(ctx, seg, refs)
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
// with each one's tree, the reference definitions it holds, and where it
// ends.
func mdSegments(ctx context.Context, src string, size int, walk func(doc ast.Node, defs []parser.Reference, seg []byte, end int) error) error {
	start := 0  // the segment's start
	try := size // the length at which a cut is next tried
	pos := 0
	for pos < len(src) {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := strings.IndexByte(src[pos:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += pos + 1
		}
		line := src[pos:end]
		if pos-start >= try && atxLine(line) {
			seg := []byte(src[start:end])
			doc, defs, err := parseMarkdown(ctx, seg, nil)
			if err != nil {
				return err
			}
			if endsWithHeading(doc, len(seg)-len(line)) {
				if err := walk(doc, defs, seg, end); err != nil {
					return err
				}
				start, try = end, size
			} else {
				try = 2 * (pos - start)
			}
		}
		pos = end
	}
	if start < len(src) || start == 0 {
		seg := []byte(src[start:])
		doc, defs, err := parseMarkdown(ctx, seg, nil)
		if err != nil {
			return err
		}
		return walk(doc, defs, seg, len(src))
	}
	return nil
}

// atxLine reports a line that is an ATX heading if it starts a block: one
// to six '#' in the first column, then a space, a tab or the line's end.
func atxLine(line string) bool {
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
