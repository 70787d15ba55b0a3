package extract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/tenantry/tenantry/pipeline"
)

// html extracts the visible text of an HTML document: no script, style,
// template, noscript, head metadata, hidden elements or embedded objects;
// a line break after each block element; h1-h6 (and the title) as heading
// sections; table cells joined by " | ", a row per line.
func (e *Extractor) html(ctx context.Context, r *bufio.Reader, size int64, params map[string]string) (pipeline.Extracted, error) {
	// The source is bounded by MaxDecompressedBytes (markup is not text);
	// the text taken out of it by MaxTextBytes, counted as it is written.
	src, err := decodeSource(ctx, r, params["charset"], size, e.cfg.MaxDecompressedBytes)
	if errors.Is(err, errOutputLimit) {
		err = errSourceLimit
	}
	if err != nil {
		return pipeline.Extracted{}, err
	}
	return e.htmlSource(ctx, src)
}

// htmlSource extracts the decoded source of a whole HTML document, parsed
// into one tree.
func (e *Extractor) htmlSource(ctx context.Context, src string) (pipeline.Extracted, error) {
	doc, err := html.ParseWithOptions(ctxReader{ctx: ctx, r: strings.NewReader(src)}, html.ParseOptionEnableScripting(true))
	if err != nil {
		if ctx.Err() != nil {
			return pipeline.Extracted{}, ctx.Err()
		}
		// The parser refuses more than 512 open elements.
		return pipeline.Extracted{}, malformed("html", "nesting deeper than the parser allows")
	}
	w := &htmlWalker{ctx: ctx, max: e.cfg.MaxNesting, b: sectionBuilder{limit: e.cfg.MaxTextBytes, maxSections: e.cfg.MaxSections},
		written: &textBudget{left: e.cfg.MaxTextBytes}}
	root := doc
	if !e.reference {
		if root, err = w.mainContent(doc); err != nil {
			return pipeline.Extracted{}, err
		}
	}
	if err := w.node(root, 0); err != nil {
		if errors.Is(err, errTooDeep) {
			return pipeline.Extracted{}, malformed("html", "nesting deeper than MaxNesting")
		}
		return pipeline.Extracted{}, err
	}
	if err := w.endBlock(); err != nil {
		return pipeline.Extracted{}, err
	}
	return w.b.done(), nil
}

// htmlFragmentText returns the visible text of an HTML fragment (raw HTML
// inside Markdown), or "" when it cannot be parsed.
func htmlFragmentText(src string) string {
	nodes, err := html.ParseFragment(strings.NewReader(src), &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body})
	if err != nil {
		return ""
	}
	w := &htmlWalker{ctx: context.Background(), max: defaultMaxNesting, b: sectionBuilder{limit: int64(len(src)) * 2},
		written: &textBudget{left: int64(len(src)) * 2}}
	for _, n := range nodes {
		if w.node(n, 0) != nil {
			return ""
		}
	}
	_ = w.endBlock()
	var parts []string
	for _, s := range w.b.done().Sections {
		parts = append(parts, s.Text)
	}
	return strings.Join(parts, "\n\n")
}

type htmlWalker struct {
	ctx   context.Context
	max   int
	b     sectionBuilder
	line  bytes.Buffer    // the current line of inline text (its array reused from line to line)
	block strings.Builder // lines of the current block
	pre   int             // inside <pre>
	cells []string        // cells of the current table row
	inRow int
	steps int
	// written is shared with the walkers of headings and cells: every byte
	// of text written anywhere counts, so a huge text node or a table of
	// many cells stops the walk when it passes MaxTextBytes.
	written *textBudget
	// filter, when set, drops page furniture (htmlcontent.go).
	filter *contentFilter
}

// skipped elements never show text.
func skipped(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Template, atom.Noscript, atom.Head, atom.Meta,
		atom.Link, atom.Iframe, atom.Object, atom.Embed, atom.Canvas, atom.Svg, atom.Math,
		atom.Select, atom.Button, atom.Input:
		return true
	}
	for _, a := range n.Attr {
		switch strings.ToLower(a.Key) {
		case "hidden":
			return true
		case "aria-hidden":
			if strings.EqualFold(a.Val, "true") {
				return true
			}
		case "style":
			v := strings.ToLower(strings.ReplaceAll(a.Val, " ", ""))
			if strings.Contains(v, "display:none") || strings.Contains(v, "visibility:hidden") {
				return true
			}
		}
	}
	return false
}

func blockElement(a atom.Atom) bool {
	switch a {
	case atom.Address, atom.Article, atom.Aside, atom.Blockquote, atom.Body, atom.Dd, atom.Details,
		atom.Dialog, atom.Div, atom.Dl, atom.Dt, atom.Fieldset, atom.Figcaption, atom.Figure,
		atom.Footer, atom.Form, atom.Header, atom.Hgroup, atom.Hr, atom.Li, atom.Main, atom.Nav,
		atom.Ol, atom.P, atom.Pre, atom.Section, atom.Summary, atom.Table, atom.Ul, atom.Caption,
		atom.Thead, atom.Tbody, atom.Tfoot, atom.Html, atom.Textarea, atom.Option, atom.Center,
		atom.Menu, atom.Legend, atom.Tr, atom.Td, atom.Th:
		return true
	}
	return false
}

func headingLevel(a atom.Atom) bool {
	switch a {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		return true
	}
	return false
}

func (w *htmlWalker) node(n *html.Node, depth int) error {
	if depth > w.max {
		return errTooDeep
	}
	w.steps++
	if w.steps%1024 == 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
	}
	switch n.Type {
	case html.TextNode:
		return w.text(n.Data)
	case html.ElementNode:
	case html.DocumentNode:
		return w.children(n, depth)
	default: // comments, doctypes
		return nil
	}
	if n.DataAtom == atom.Title && n.Parent != nil {
		// <title> lives in <head>, which is skipped; it is reached only
		// when a document puts it in the body. Treat it as a heading.
		return w.heading(n, depth)
	}
	if skipped(n) {
		if n.DataAtom == atom.Head {
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && c.DataAtom == atom.Title {
					if err := w.heading(c, depth+1); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if w.filter != nil && w.filter.drop(n) {
		return nil
	}
	if w.pre > 0 && codeAfterCode(n) {
		w.newline() // <pre><code>a</code><code>b</code></pre>: two listings
	}
	switch {
	case headingLevel(n.DataAtom):
		return w.heading(n, depth)
	case n.DataAtom == atom.Br:
		w.newline()
		return nil
	case n.DataAtom == atom.Img:
		if w.filter != nil && linkedImage(n) {
			return nil // a logo or a badge
		}
		for _, a := range n.Attr {
			if a.Key == "alt" && strings.TrimSpace(a.Val) != "" {
				if err := w.text(" " + a.Val + " "); err != nil {
					return err
				}
			}
		}
		return nil
	case n.DataAtom == atom.Tr:
		if layoutRow(n) {
			break // a page laid out with a table: its cells are blocks
		}
		return w.row(n, depth)
	case n.DataAtom == atom.Td || n.DataAtom == atom.Th:
		if w.inRow > 0 {
			return w.cell(n, depth)
		}
	case n.DataAtom == atom.Pre:
		w.newline()
		w.pre++
		err := w.children(n, depth)
		w.newline()
		w.pre--
		if err != nil {
			return err
		}
		return w.endBlock()
	}
	block := blockElement(n.DataAtom)
	if block {
		w.newline()
	}
	if err := w.children(n, depth); err != nil {
		return err
	}
	if block {
		w.newline()
		if n.DataAtom == atom.P || n.DataAtom == atom.Table || n.DataAtom == atom.Pre ||
			n.DataAtom == atom.Ul || n.DataAtom == atom.Ol || n.DataAtom == atom.Blockquote {
			return w.endBlock()
		}
	}
	return nil
}

func (w *htmlWalker) children(n *html.Node, depth int) error {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if err := w.node(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// text writes a text node's text (collapsed outside <pre>), counting it
// against the text budget first.
func (w *htmlWalker) text(s string) error {
	if w.pre > 0 {
		if err := w.written.spend(len(s)); err != nil {
			return err
		}
		for i, part := range strings.Split(s, "\n") {
			if i > 0 {
				w.newline()
			}
			w.line.WriteString(part)
		}
		return nil
	}
	if s == "" {
		return nil
	}
	// Collapse whitespace, keeping one space at the edges when present:
	// the words are written straight into the line (collapseSpace would
	// build the collapsed text first).
	collapsed := 0
	for f := range strings.FieldsSeq(s) {
		collapsed += len(f) + 1
	}
	if collapsed > 0 {
		collapsed-- // the spaces between the words
	}
	if err := w.written.spend(collapsed + 1); err != nil {
		return err
	}
	if isSpaceByte(s[0]) {
		w.space()
	}
	first := true
	for f := range strings.FieldsSeq(s) {
		if !first {
			w.line.WriteByte(' ')
		}
		w.line.WriteString(f)
		first = false
	}
	if collapsed > 0 && isSpaceByte(s[len(s)-1]) {
		w.space()
	}
	return nil
}

// space writes one space unless the line is empty or already ends in one.
func (w *htmlWalker) space() {
	if n := w.line.Len(); n > 0 && !isSpaceByte(w.line.Bytes()[n-1]) {
		w.line.WriteByte(' ')
	}
}

func isSpaceByte(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f'
}

// newline ends the current line of text.
func (w *htmlWalker) newline() {
	line := w.line.Bytes()
	if w.pre == 0 {
		line = bytes.TrimSpace(line)
	}
	if w.pre > 0 || len(line) > 0 {
		if w.block.Len() > 0 {
			w.block.WriteByte('\n')
		}
		w.block.Write(line)
	}
	w.line.Reset() // copied into the block: the array is reused
}

// endBlock ends the current block: a paragraph break follows.
func (w *htmlWalker) endBlock() error {
	w.newline()
	text := w.block.String()
	w.block.Reset()
	return w.b.block(text)
}

func (w *htmlWalker) heading(n *html.Node, depth int) error {
	if err := w.endBlock(); err != nil {
		return err
	}
	sub := &htmlWalker{ctx: w.ctx, max: w.max, written: w.written, filter: w.filter}
	sub.b.limit = w.b.limit
	if err := sub.children(n, depth); err != nil {
		return err
	}
	sub.newline()
	text := sub.block.String()
	if last, ok := w.b.lastHeading(); ok && last == collapseSpace(text) {
		return nil // the page's title repeated as its first heading
	}
	return w.b.heading(text)
}

// row writes a table row as one line: its cells' text joined by " | ".
func (w *htmlWalker) row(n *html.Node, depth int) error {
	w.newline()
	saved := w.cells
	w.cells = nil
	w.inRow++
	err := w.children(n, depth)
	w.inRow--
	cells := w.cells
	w.cells = saved
	if err != nil {
		return err
	}
	if len(cells) > 0 {
		w.line.WriteString(strings.Join(cells, " | "))
		w.newline()
	}
	return nil
}

func (w *htmlWalker) cell(n *html.Node, depth int) error {
	sub := &htmlWalker{ctx: w.ctx, max: w.max, written: w.written, filter: w.filter}
	sub.b.limit = w.b.limit
	if err := sub.children(n, depth); err != nil {
		return err
	}
	_ = sub.endBlock()
	var parts []string
	for _, s := range sub.b.done().Sections {
		parts = append(parts, s.Text)
	}
	w.cells = append(w.cells, collapseSpace(strings.Join(parts, " ")))
	return nil
}

// mainContent sets up the content filter, writes the page's title when the
// walk will not reach it, and returns the node to walk: the page's main
// content element, or the whole document when it has none.
func (w *htmlWalker) mainContent(doc *html.Node) (*html.Node, error) {
	root := contentRoot(doc)
	if root == nil {
		w.filter = newContentFilter(doc)
		return doc, nil
	}
	w.filter = newContentFilter(root)
	w.filter.root = root
	if t := findElement(doc, atom.Title, 0); t != nil {
		if err := w.heading(t, 0); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// findElement returns the first element of the kind under n.
func findElement(n *html.Node, a atom.Atom, depth int) *html.Node {
	if depth > 512 {
		return nil
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.DataAtom == a {
			return c
		}
		if f := findElement(c, a, depth+1); f != nil {
			return f
		}
	}
	return nil
}

// codeAfterCode reports a code element right after another one (white
// space between them aside), as when a listing comes in two flavours.
func codeAfterCode(n *html.Node) bool {
	if n.Type != html.ElementNode || n.DataAtom != atom.Code {
		return false
	}
	for p := n.PrevSibling; p != nil; p = p.PrevSibling {
		switch {
		case p.Type == html.TextNode && strings.TrimSpace(p.Data) == "":
			continue
		case p.Type == html.ElementNode && p.DataAtom == atom.Code:
			return true
		case p.Type == html.ElementNode && skipped(p):
			continue
		}
		return false
	}
	return false
}

// layoutRow reports a table row used for page layout rather than data: a
// cell holds block content (headings, lists, listings, tables, quotes, or
// more than one paragraph).
func layoutRow(tr *html.Node) bool {
	for c := tr.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (c.DataAtom == atom.Td || c.DataAtom == atom.Th) {
			paras := 0
			if hasBlock(c, 0, &paras) || paras > 1 {
				return true
			}
		}
	}
	return false
}

func hasBlock(n *html.Node, depth int, paras *int) bool {
	if depth > 64 {
		return true
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		switch c.DataAtom {
		case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Ul, atom.Ol, atom.Dl,
			atom.Pre, atom.Table, atom.Blockquote:
			return true
		case atom.P:
			*paras++
		}
		if hasBlock(c, depth+1, paras) {
			return true
		}
	}
	return false
}
