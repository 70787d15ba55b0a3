package extract

import (
	"bufio"
	"context"
	"errors"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"

	"github.com/tenantry/tenantry/pipeline"
)

var errTooDeep = errors.New("nesting too deep")

var md = goldmark.New(goldmark.WithExtensions(extension.GFM))

// markdown extracts CommonMark + GFM: headings become heading sections,
// paragraphs, list items, code blocks and quotes become body blocks, table
// rows become lines of cells joined by " | ", raw HTML keeps its visible
// text, and link targets and images' URLs are dropped (their text is kept).
func (e *Extractor) markdown(ctx context.Context, r *bufio.Reader, size int64, params map[string]string) (pipeline.Extracted, error) {
	src, err := decodeText(ctx, r, params["charset"], size, e.cfg.MaxTextBytes)
	if err != nil {
		return pipeline.Extracted{}, err
	}
	if markdownDepth(src) > e.cfg.MaxNesting {
		return pipeline.Extracted{}, malformed("markdown", "nesting deeper than MaxNesting")
	}
	return e.markdownSource(ctx, src)
}

// markdownSource extracts decoded Markdown parsed whole.
func (e *Extractor) markdownSource(ctx context.Context, src string) (pipeline.Extracted, error) {
	source := []byte(src)
	doc, _, err := parseMarkdown(ctx, source, nil)
	if err != nil {
		return pipeline.Extracted{}, err
	}
	w := &mdWalker{ctx: ctx, src: source, max: e.cfg.MaxNesting, b: sectionBuilder{limit: e.cfg.MaxTextBytes, maxSections: e.cfg.MaxSections}}
	if err := w.blocks(doc, 0); err != nil {
		if errors.Is(err, errTooDeep) {
			return pipeline.Extracted{}, malformed("markdown", "nesting deeper than MaxNesting")
		}
		return pipeline.Extracted{}, err
	}
	return w.b.done(), nil
}

// parseMarkdown parses source with goldmark, knowing the link reference
// definitions given (besides its own), and returns the tree and the
// definitions it found. goldmark cannot be interrupted: it parses in a
// goroutine, and the wait stops at the deadline (the input is bounded, so
// the parse ends anyway).
func parseMarkdown(ctx context.Context, source []byte, known []parser.Reference) (ast.Node, []parser.Reference, error) {
	type result struct {
		doc  ast.Node
		refs []parser.Reference
		p    any
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{p: p}
			}
		}()
		pc := parser.NewContext()
		for _, r := range known {
			pc.AddReference(r)
		}
		doc := md.Parser().Parse(text.NewReader(source), parser.WithContext(pc))
		var refs []parser.Reference
		if known == nil {
			refs = pc.References()
		}
		done <- result{doc: doc, refs: refs}
	}()
	select {
	case res := <-done:
		if res.p != nil {
			return nil, nil, malformed("markdown", "parser failed")
		}
		return res.doc, res.refs, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// markdownDepth returns the deepest block nesting a line opens with
// blockquote markers and list markers, before parsing (goldmark's cost
// grows with nesting).
func markdownDepth(src string) int {
	deepest := 0
	for line := range strings.Lines(src) {
		deepest = max(deepest, lineDepth(line))
	}
	return deepest
}

// lineDepth returns the block nesting one line opens (markdownDepth).
func lineDepth[T ~string | ~[]byte](line T) int {
	depth := 0
	i := 0
	for i < len(line) {
		switch c := line[i]; {
		case c == '>':
			depth++
			i++
		case c == ' ' || c == '\t':
			i++
		case (c == '-' || c == '*' || c == '+') && i+1 < len(line) && (line[i+1] == ' ' || line[i+1] == '\t'):
			depth++
			i += 2
		default:
			i = len(line)
		}
	}
	return depth
}

type mdWalker struct {
	ctx   context.Context
	src   []byte
	max   int
	b     sectionBuilder
	steps int
}

func (w *mdWalker) tick() error {
	w.steps++
	if w.steps%1024 == 0 {
		return w.ctx.Err()
	}
	return nil
}

// blocks walks block nodes.
func (w *mdWalker) blocks(n ast.Node, depth int) error {
	if depth > w.max {
		return errTooDeep
	}
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if err := w.tick(); err != nil {
			return err
		}
		var err error
		switch c := c.(type) {
		case *ast.Heading:
			err = w.b.heading(w.inline(c, depth+1))
		case *ast.Paragraph, *ast.TextBlock:
			err = w.b.block(w.inline(c, depth+1))
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			err = w.b.block(w.lines(c))
		case *ast.HTMLBlock:
			err = w.b.block(htmlFragmentText(w.lines(c)))
		case *ast.ThematicBreak:
		case *east.Table:
			err = w.b.block(w.table(c, depth+1))
		case *ast.List:
			err = w.list(c, depth+1)
		default: // blockquotes, list items, documents, extensions
			err = w.blocks(c, depth+1)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// list writes one line per item, "- " first, nested content indented by
// its blocks.
func (w *mdWalker) list(l *ast.List, depth int) error {
	if depth > w.max {
		return errTooDeep
	}
	var b strings.Builder
	for item := l.FirstChild(); item != nil; item = item.NextSibling() {
		sub := &mdWalker{ctx: w.ctx, src: w.src, max: w.max, b: sectionBuilder{limit: w.b.limit - w.b.bytes}}
		if err := sub.blocks(item, depth+1); err != nil {
			return err
		}
		var parts []string
		for _, s := range sub.b.done().Sections {
			parts = append(parts, s.Text)
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("- ")
		b.WriteString(strings.Join(parts, "\n"))
	}
	return w.b.block(b.String())
}

func (w *mdWalker) table(t *east.Table, depth int) string {
	var b strings.Builder
	for row := t.FirstChild(); row != nil; row = row.NextSibling() {
		var cells []string
		for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
			cells = append(cells, collapseSpace(w.inline(cell, depth+1)))
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.Join(cells, " | "))
	}
	return b.String()
}

// lines returns the raw lines of a code or HTML block.
func (w *mdWalker) lines(n ast.Node) string {
	var b strings.Builder
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		b.Write(seg.Value(w.src))
	}
	return b.String()
}

// inline returns the text of inline content: link and image text kept,
// their destinations and raw HTML dropped, soft line breaks as spaces.
func (w *mdWalker) inline(n ast.Node, depth int) string {
	var b strings.Builder
	var walk func(n ast.Node, depth int)
	walk = func(n ast.Node, depth int) {
		if depth > w.max {
			return
		}
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Text:
				b.Write(c.Segment.Value(w.src))
				switch {
				case c.HardLineBreak():
					b.WriteByte('\n')
				case c.SoftLineBreak():
					b.WriteByte(' ')
				}
			case *ast.String:
				b.Write(c.Value)
			case *ast.CodeSpan:
				for t := c.FirstChild(); t != nil; t = t.NextSibling() {
					if s, ok := t.(*ast.Text); ok {
						b.Write(s.Segment.Value(w.src))
					} else if s, ok := t.(*ast.String); ok {
						b.Write(s.Value)
					}
				}
			case *ast.AutoLink:
				b.Write(c.Label(w.src))
			case *ast.RawHTML, *east.TaskCheckBox:
			default:
				walk(c, depth+1)
			}
		}
	}
	walk(n, depth)
	return b.String()
}
