package extract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/tenantry/tenantry/pipeline"
)

// HTML read incrementally (ExtractTo). A source of up to htmlStream.above
// bytes is parsed whole, as Extract parses it. A larger one is read with the
// x/net/html tokenizer, which tracks the open elements, and cut into
// segments between the children of a container (the body, the page's main
// content element, or an element open for more than htmlStream.descend
// bytes of source, entered); each segment is parsed by the same tree
// builder in the document's mode (quirks or standards, from its doctype;
// parseSegment) and walked by the same htmlWalker, whose state (the
// current line and block, the sections so far) runs on across segments. The
// decoded source is not held: it is spooled to an unlinked temporary file
// (Config.SpoolDir) as it is decoded, the raw bytes read where they lie (or
// spooled too, when the reader cannot be read at offsets), and the passes
// read it back. What is held is one segment's source and tree, the token
// being read and the text of the current section (handed over in
// continuation pieces of about streamBlock bytes).
//
// What the streaming reader decides differently from the whole parse:
//   - the content root (the one main or article element) and the page's
//     text total (the content filter's "most of the page") come from a first
//     pass of the tokenizer over the source, not from the tree;
//   - an element entered as a container (open for more than
//     htmlStream.descend bytes) is never dropped by the filter's text
//     statistics (link farms, tables of contents, short furniture-named
//     elements): those need its whole subtree. Landmarks (nav, aside, footer,
//     form, a header outside the content, furniture roles) and skipped
//     elements are still dropped whole. Tables, rows, headings, listings
//     and links are never entered: each is parsed whole.
//   - markup the tree builder repairs across a cut (an end tag that closes an
//     element the tokenizer's stack disagrees about, a formatting element
//     re-opened by the adoption agency, content foster-parented out of a
//     table that spans a cut) can put a line break or a block boundary where
//     the whole parse has none. Well-formed documents, and the end tags HTML
//     lets a document omit (p, li, dt, dd, tr, td, th, option, tbody), are
//     cut exactly (TestHTMLStreamMatchesWhole), in quirks mode too (where a
//     table does not close an open p), and so is a form start tag inside a
//     form (ignored). The form element pointer is followed only as far as
//     the open elements show it: a form closed by another element's end
//     tag, or a form end tag with elements open inside the form, can move
//     breaks too.
type htmlStreamConfig struct {
	above   int // sources up to this many bytes are parsed whole
	segment int // source parsed at a time, at least
	descend int // an element open for more source than this is entered
}

var defaultHTMLStream = htmlStreamConfig{above: 1 << 20, segment: 64 << 10, descend: 256 << 10}

func (e *Extractor) htmlStreamConfig() htmlStreamConfig {
	if e.htmlStream != nil {
		return *e.htmlStream
	}
	return defaultHTMLStream
}

// htmlTo is html handing sections to emit as they complete. The decoded
// source is kept in memory up to htmlStream.above bytes and parsed whole;
// past that it is spooled and read incrementally.
func (e *Extractor) htmlTo(ctx context.Context, orig io.Reader, br *bufio.Reader, params map[string]string, emit func(pipeline.Section) error) error {
	sc := e.htmlStreamConfig()
	limit, above := e.cfg.MaxDecompressedBytes, int64(sc.above)
	raw, release, err := e.source(ctx, orig, br, limit, above)
	var src *spill
	if err == nil {
		src, err = decodeSourceTo(ctx, raw, params["charset"], limit, func() *spill {
			return &spill{dir: e.cfg.SpoolDir, above: above, reserve: min(raw.Size(), above)}
		})
		release()
	}
	if errors.Is(err, errOutputLimit) {
		err = errSourceLimit
	}
	if err != nil {
		return err
	}
	defer src.close()
	if p, ok := src.held(); ok && src.size() <= above {
		out, err := e.htmlSource(ctx, string(p))
		return emitAll(out, err, emit)
	}
	return e.htmlStreamed(ctx, src.readerAt(), sc, emit)
}

func (e *Extractor) htmlStreamed(ctx context.Context, src sizedReaderAt, sc htmlStreamConfig, emit func(pipeline.Section) error) error {
	w := &htmlWalker{ctx: ctx, max: e.cfg.MaxNesting,
		b:       sectionBuilder{limit: e.cfg.MaxTextBytes, maxSections: e.cfg.MaxSections, emit: emit},
		written: &textBudget{left: e.cfg.MaxTextBytes}}
	st := &htmlStreamer{ctx: ctx, src: src, cfg: sc, w: w, root: -1, parsed: e.htmlParsed}
	if !e.reference {
		first := &htmlScan{src: src, measure: true}
		if err := first.run(ctx, nil); err != nil {
			return err
		}
		st.filter = &contentFilter{stats: map[*html.Node]linkStats{}, total: first.docText}
		switch {
		case first.mains == 1:
			st.root, st.rootMain, st.filter.total = 0, true, first.mainText
		case first.mains == 0 && first.articles == 1:
			st.root, st.filter.total = 0, first.articleText
		}
		if st.root >= 0 && first.title != nil {
			st.title = first.title
		}
		w.filter = st.filter
	}
	if err := st.run(); err != nil {
		if errors.Is(err, errTooDeep) {
			return malformed("html", "nesting deeper than MaxNesting")
		}
		return err
	}
	return nil
}

// openElem is an element the tokenizer saw open.
type openElem struct {
	a       atom.Atom
	name    string
	start   int  // offset of its start tag
	inner   int  // offset just after its start tag
	skip    bool // skipped, or inside a skipped element
	inMain  bool // a main element or inside one
	foreign bool // svg or math, or inside one
	main    int  // its ordinal among main candidates (-1: not one)
	article int  // its ordinal among article candidates (-1: not one)
	fixed   bool // cannot be entered as a container
}

// htmlScan tokenizes a source, tracking the open elements the way the tree
// builder would for well-formed markup and the end tags HTML lets a
// document omit. It finds where the body starts, the head's titles, and the
// page's content-root candidates; with measure set it also counts the
// visible text of the page and of its first main and article candidates.
type htmlScan struct {
	src     sizedReaderAt
	measure bool

	z        *html.Tokenizer
	off      int // offset after the current token
	tokStart int // offset of the current token
	inBody   bool
	head     []atom.Atom // open elements in the head
	stack    []openElem

	mains, articles int
	docText         int
	mainText        int // text of main candidate 0
	articleText     int // text of article candidate 0
	title           *html.Node
	inTitle         bool
	titleAt         int    // stack depth of the first title while it is open in the body (0: none)
	tag             []byte // the current tag token's name (a buffer reused from token to token)

	// The document's mode, as the tree builder decides it from the first
	// token that is not a comment or white space: a doctype it reads as
	// standards (or limited quirks) mode, or quirks mode. The one thing
	// x/net/html does differently in quirks mode is that a table start
	// tag does not close an open p element.
	modeSet bool
	quirks  bool
}

// htmlScanEvents receives what the scan sees; nil funcs are not called.
type htmlScanEvents struct {
	// headTitle is a title element in the head, with its text.
	headTitle func(n *html.Node) error
	// bodyStart is where the body's content starts.
	bodyStart func(at int) error
	// popped is called before elements are popped: the stack shrinks to
	// n elements; cut is where the content before the closing ends and
	// resume where the content after it starts.
	popped func(n, cut, resume int) error
	// token is called after each token of the body (the stack updated).
	token func() error
}

var errScanDone = errors.New("scan done")

func (s *htmlScan) run(ctx context.Context, ev *htmlScanEvents) error {
	if ev == nil {
		ev = &htmlScanEvents{}
	}
	s.z = html.NewTokenizer(sourceReader(ctx, s.src))
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		tt := s.z.Next()
		if tt == html.ErrorToken {
			if err := s.z.Err(); !errors.Is(err, io.EOF) {
				return err
			}
			return nil
		}
		s.tokStart = s.off
		s.off += len(s.z.Raw())
		s.tag = s.tag[:0]
		if tt == html.StartTagToken || tt == html.SelfClosingTagToken || tt == html.EndTagToken {
			s.tag = tagName(s.tag, s.z.Raw())
		}
		if !s.modeSet {
			s.setMode(tt)
		}
		var err error
		if !s.inBody {
			err = s.headToken(tt, ev)
		} else {
			err = s.bodyToken(tt, ev)
		}
		if errors.Is(err, errScanDone) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// headElement reports elements that go into the head before the body.
func headElement(a atom.Atom) bool {
	switch a {
	case atom.Title, atom.Meta, atom.Link, atom.Base, atom.Basefont, atom.Bgsound, atom.Style,
		atom.Script, atom.Noscript, atom.Template, atom.Noframes:
		return true
	}
	return false
}

// setMode decides the document's mode at its first token that is not a
// comment or white space (the tree builder's initial insertion mode).
func (s *htmlScan) setMode(tt html.TokenType) {
	switch tt {
	case html.CommentToken:
		return
	case html.TextToken:
		if blankText(s.z.Raw()) {
			return
		}
	case html.DoctypeToken:
		s.modeSet, s.quirks = true, doctypeQuirks(s.z.Raw())
		return
	}
	s.modeSet, s.quirks = true, true
}

// blankText reports whether a text token's raw bytes are only the white
// space the tree builder ignores before the document's first element
// (character references decoded first, as the tokenizer decodes them).
func blankText(raw []byte) bool {
	t := raw
	if bytes.IndexByte(raw, '&') >= 0 {
		t = []byte(html.UnescapeString(string(raw)))
	}
	return len(bytes.TrimLeft(t, htmlSpace)) == 0
}

const htmlSpace = " \t\n\r\f"

// quirksProbe follows a doctype in doctypeQuirks' probe document.
const quirksProbe = "<p><table>"

// doctypeQuirks reports whether the tree builder puts a document that
// starts with the doctype token raw into quirks mode. It asks the tree
// builder itself (its doctype rules are not exported): in quirks mode
// the probe's table is a child of its p, else the p's sibling.
func doctypeQuirks(raw []byte) bool {
	doc, err := html.Parse(io.MultiReader(bytes.NewReader(raw), strings.NewReader(quirksProbe)))
	if err != nil {
		return true
	}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.DataAtom == atom.P {
			return n.FirstChild != nil && n.FirstChild.DataAtom == atom.Table
		}
	}
	return true
}

func (s *htmlScan) headToken(tt html.TokenType, ev *htmlScanEvents) error {
	z := s.z
	switch tt {
	case html.DoctypeToken, html.CommentToken:
		return nil
	case html.TextToken:
		if len(s.head) > 0 {
			if s.head[len(s.head)-1] == atom.Title {
				t := &html.Node{Type: html.ElementNode, DataAtom: atom.Title, Data: "title"}
				t.AppendChild(&html.Node{Type: html.TextNode, Data: string(z.Text())})
				s.firstTitle(t)
				s.inTitle = true
				if ev.headTitle != nil {
					return ev.headTitle(t)
				}
			}
			return nil
		}
		if blankText(z.Raw()) {
			return nil
		}
		return s.startBody(s.tokStart, tt, ev)
	case html.StartTagToken, html.SelfClosingTagToken:
		a := atom.Lookup(s.tag)
		if len(s.head) > 0 {
			if s.head[len(s.head)-1] == atom.Template && a == atom.Template {
				s.head = append(s.head, a)
			}
			return nil
		}
		switch {
		case a == atom.Html || a == atom.Head:
			return nil
		case a == atom.Body:
			return s.startBody(s.off, 0, ev)
		case headElement(a):
			if a == atom.Title || a == atom.Style || a == atom.Script || a == atom.Noscript || a == atom.Template || a == atom.Noframes {
				s.head = append(s.head, a)
				if a == atom.Title {
					s.inTitle = false
				}
			}
			return nil
		}
		return s.startBody(s.tokStart, tt, ev)
	case html.EndTagToken:
		a := atom.Lookup(s.tag)
		if n := len(s.head); n > 0 && s.head[n-1] == a {
			if a == atom.Title && !s.inTitle {
				// An empty title: still the first title element.
				t := &html.Node{Type: html.ElementNode, DataAtom: atom.Title, Data: "title"}
				s.firstTitle(t)
			}
			s.head = s.head[:n-1]
		}
	}
	return nil
}

func (s *htmlScan) firstTitle(t *html.Node) {
	if s.title == nil {
		s.title = t
	}
}

// startBody starts the body at offset at; a token that started it
// implicitly (tt not 0) is then handled as body content.
func (s *htmlScan) startBody(at int, tt html.TokenType, ev *htmlScanEvents) error {
	s.inBody = true
	if ev.bodyStart != nil {
		if err := ev.bodyStart(at); err != nil {
			return err
		}
	}
	if tt != 0 {
		return s.bodyToken(tt, ev)
	}
	return nil
}

func voidElement(a atom.Atom) bool {
	switch a {
	case atom.Area, atom.Base, atom.Br, atom.Col, atom.Embed, atom.Hr, atom.Img, atom.Input, atom.Keygen,
		atom.Link, atom.Meta, atom.Param, atom.Source, atom.Track, atom.Wbr, atom.Image, atom.Frame, atom.Basefont, atom.Bgsound:
		return true
	}
	return false
}

// closesP reports start tags that close an open p element.
func closesP(a atom.Atom) bool {
	switch a {
	case atom.Address, atom.Article, atom.Aside, atom.Blockquote, atom.Center, atom.Details, atom.Dialog,
		atom.Dir, atom.Div, atom.Dl, atom.Fieldset, atom.Figcaption, atom.Figure, atom.Footer, atom.Header,
		atom.Hgroup, atom.Main, atom.Menu, atom.Nav, atom.Ol, atom.P, atom.Search, atom.Section, atom.Summary,
		atom.Ul, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Pre, atom.Listing, atom.Form,
		atom.Plaintext, atom.Table, atom.Hr, atom.Xmp, atom.Li, atom.Dd, atom.Dt:
		return true
	}
	return false
}

// scopeStop reports elements that bound the search for an element to close.
func scopeStop(a atom.Atom) bool {
	switch a {
	case atom.Applet, atom.Caption, atom.Html, atom.Table, atom.Td, atom.Th, atom.Marquee, atom.Object,
		atom.Template, atom.Select:
		return true
	}
	return false
}

func formatting(a atom.Atom) bool {
	switch a {
	case atom.A, atom.B, atom.Big, atom.Code, atom.Em, atom.Font, atom.I, atom.Nobr, atom.S, atom.Small,
		atom.Strike, atom.Strong, atom.Tt, atom.U:
		return true
	}
	return false
}

// inForm reports whether a form is open outside a template among the
// outermost n open elements (the tree builder's form element pointer, as
// far as the open elements show it).
func (s *htmlScan) inForm(n int) bool {
	for i := n - 1; i >= 0; i-- {
		switch e := s.stack[i]; {
		case e.foreign:
		case e.a == atom.Template:
			return false
		case e.a == atom.Form:
			return true
		}
	}
	return false
}

// find returns the index of the innermost open element named name (atom a)
// before a scope boundary (extra ones: stop), or -1.
func (s *htmlScan) find(a atom.Atom, name string, stop ...atom.Atom) int {
	for i := len(s.stack) - 1; i >= 0; i-- {
		e := s.stack[i]
		if e.a == a && e.name == name {
			return i
		}
		if scopeStop(e.a) {
			return -1
		}
		for _, x := range stop {
			if e.a == x {
				return -1
			}
		}
	}
	return -1
}

// popTo pops the stack to n elements.
func (s *htmlScan) popTo(n, cut, resume int, ev *htmlScanEvents) error {
	if n >= len(s.stack) {
		return nil
	}
	if ev.popped != nil {
		if err := ev.popped(n, cut, resume); err != nil {
			return err
		}
	}
	s.stack = s.stack[:n]
	if n < s.titleAt {
		s.titleAt = 0 // the first title ended
	}
	return nil
}

func (s *htmlScan) bodyToken(tt html.TokenType, ev *htmlScanEvents) error {
	z := s.z
	switch tt {
	case html.StartTagToken, html.SelfClosingTagToken:
		a := atom.Lookup(s.tag)
		nm := elemName(a, s.tag)
		top := openElem{main: -1, article: -1}
		if n := len(s.stack); n > 0 {
			top = s.stack[n-1]
		}
		if top.foreign {
			if tt != html.SelfClosingTagToken {
				s.push(a, nm, true, top)
				s.titleStart(a)
				if len(s.stack) > maxOpen {
					return malformed("html", "nesting deeper than the parser allows")
				}
			}
			break
		}
		if a == atom.Html || a == atom.Body || a == atom.Head || a == atom.Frameset {
			break
		}
		if a == atom.Form && s.inForm(len(s.stack)) {
			break // the tree builder ignores a form start tag inside a form
		}
		if err := s.implied(a, ev); err != nil {
			return err
		}
		if len(s.stack) > 0 {
			top = s.stack[len(s.stack)-1]
		} else {
			top = openElem{main: -1, article: -1}
		}
		if voidElement(a) {
			if s.measure && a == atom.Img && !top.skip {
				s.img()
			}
			break
		}
		s.push(a, nm, a == atom.Svg || a == atom.Math, top)
		s.titleStart(a)
		if len(s.stack) > maxOpen {
			return malformed("html", "nesting deeper than the parser allows")
		}
	case html.EndTagToken:
		a := atom.Lookup(s.tag)
		nm := elemName(a, s.tag)
		switch a {
		case atom.Body, atom.Html, atom.Br:
			break
		case atom.P:
			if i := s.find(a, nm, atom.Button); i >= 0 {
				return s.endAt(i, ev)
			}
		case atom.Li:
			if i := s.find(a, nm, atom.Ul, atom.Ol); i >= 0 {
				return s.endAt(i, ev)
			}
		default:
			i := -1
			for j := len(s.stack) - 1; j >= 0; j-- {
				if s.stack[j].a == a && s.stack[j].name == nm {
					i = j
					break
				}
				if scopeStop(s.stack[j].a) && !s.stack[j].foreign {
					break
				}
			}
			if i < 0 {
				break
			}
			if formatting(a) {
				// The adoption agency keeps block elements opened inside a
				// formatting element open: close it only when nothing but
				// formatting elements is open inside it.
				for j := i + 1; j < len(s.stack); j++ {
					if !formatting(s.stack[j].a) {
						return nil
					}
				}
			}
			return s.endAt(i, ev)
		}
	case html.TextToken:
		top := openElem{main: -1, article: -1}
		if n := len(s.stack); n > 0 {
			top = s.stack[n-1]
		}
		if s.titleAt > 0 && len(s.stack) == s.titleAt {
			s.title.AppendChild(&html.Node{Type: html.TextNode, Data: string(z.Text())})
		}
		if s.measure && !top.skip {
			s.count(visibleLenBytes(z.Text()))
		}
	}
	if ev.token != nil {
		return ev.token()
	}
	return nil
}

// endAt closes the element at index i with the current end tag.
func (s *htmlScan) endAt(i int, ev *htmlScanEvents) error {
	if err := s.popTo(i, s.tokStart, s.off, ev); err != nil {
		return err
	}
	if ev.token != nil {
		return ev.token()
	}
	return nil
}

// implied pops the elements a start tag of a closes.
func (s *htmlScan) implied(a atom.Atom, ev *htmlScanEvents) error {
	pop := func(i int) error { return s.popTo(i, s.tokStart, s.tokStart, ev) }
	if closesP(a) && (a != atom.Table || !s.quirks) {
		if i := s.find(atom.P, "p", atom.Button); i >= 0 {
			if err := pop(i); err != nil {
				return err
			}
		}
	}
	n := len(s.stack)
	if n == 0 {
		return nil
	}
	switch a {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		if headingLevel(s.stack[n-1].a) {
			return pop(n - 1)
		}
	case atom.Li:
		if i := s.find(atom.Li, "li", atom.Ul, atom.Ol, atom.Menu); i >= 0 {
			return pop(i)
		}
	case atom.Dd, atom.Dt:
		for i := n - 1; i >= 0; i-- {
			e := s.stack[i].a
			if e == atom.Dd || e == atom.Dt {
				return pop(i)
			}
			if e == atom.Dl || scopeStop(e) {
				break
			}
		}
	case atom.Tr, atom.Td, atom.Th, atom.Tbody, atom.Thead, atom.Tfoot:
		// Close what the new row, cell or row group ends, inside the
		// innermost table.
		for i := n - 1; i >= 0; i-- {
			e := s.stack[i].a
			if e == atom.Table || e == atom.Template || e == atom.Html {
				break
			}
			switch {
			case (e == atom.Td || e == atom.Th) && (a == atom.Td || a == atom.Th || a == atom.Tr || a == atom.Tbody || a == atom.Thead || a == atom.Tfoot),
				e == atom.Tr && (a == atom.Tr || a == atom.Tbody || a == atom.Thead || a == atom.Tfoot),
				(e == atom.Tbody || e == atom.Thead || e == atom.Tfoot) && (a == atom.Tbody || a == atom.Thead || a == atom.Tfoot):
				return pop(i)
			}
		}
	case atom.Option, atom.Optgroup:
		if s.stack[n-1].a == atom.Option {
			return pop(n - 1)
		}
	case atom.A:
		if i := s.find(atom.A, "a"); i >= 0 {
			for j := i + 1; j < len(s.stack); j++ {
				if !formatting(s.stack[j].a) {
					return nil
				}
			}
			return pop(i)
		}
	}
	return nil
}

// push opens an element; with measure or candidates to find, its
// attributes decide whether it is skipped or a content-root candidate.
func (s *htmlScan) push(a atom.Atom, name string, foreign bool, parent openElem) {
	e := openElem{a: a, name: name, start: s.tokStart, inner: s.off, skip: parent.skip, inMain: parent.inMain,
		foreign: foreign || parent.foreign, main: -1, article: -1}
	if !e.skip {
		n := &html.Node{Type: html.ElementNode, DataAtom: a, Data: name}
		for k, v := range s.attrs() {
			key := atom.Lookup(k).String() // no copy for the names HTML knows
			if key == "" {
				key = string(k)
			}
			n.Attr = append(n.Attr, html.Attribute{Key: key, Val: string(v)})
		}
		switch {
		case skipped(n):
			e.skip = true
		case e.inMain:
		case a == atom.Main, strings.EqualFold(htmlAttr(n, "role"), "main"):
			e.inMain, e.main = true, s.mains
			s.mains++
		case a == atom.Article:
			e.article = s.articles
			s.articles++
		}
	}
	s.stack = append(s.stack, e)
}

// titleStart records the document's first title element (in the body:
// the head's are recorded by headToken) when a was just opened; its text
// follows while it is the innermost open element.
func (s *htmlScan) titleStart(a atom.Atom) {
	if a == atom.Title && s.title == nil {
		s.title = &html.Node{Type: html.ElementNode, DataAtom: atom.Title, Data: "title"}
		s.titleAt = len(s.stack)
	}
}

// maxOpen is the tree builder's own bound on open elements (x/net/html
// refuses a document past it); the scan refuses past it too, skipped
// content included.
const maxOpen = 512

// count adds visible text to the page and the candidates it is inside.
func (s *htmlScan) count(n int) {
	if n == 0 {
		return
	}
	s.docText += n
	for _, e := range s.stack {
		if e.main == 0 {
			s.mainText += n
		}
		if e.article == 0 {
			s.articleText += n
		}
	}
}

// img counts an image's alt text.
func (s *htmlScan) img() {
	for k, v := range s.attrs() {
		if string(k) == "alt" { // keys come lower-cased
			s.count(visibleLenBytes(v))
		}
	}
}

// attrs yields the current start tag's attributes (each key and value
// valid until the next), as TagAttr returns them: with none, TagAttr
// returns a nil key (a key it returns is never empty).
func (s *htmlScan) attrs() iter.Seq2[[]byte, []byte] {
	return func(yield func(k, v []byte) bool) {
		for {
			k, v, more := s.z.TagAttr()
			if k == nil || !yield(k, v) || !more {
				return
			}
		}
	}
}

// tagName appends to buf the name of the tag token raw (a start or end
// tag's raw bytes, z.Raw()) as the tokenizer's TagName returns it —
// lower-cased, NUL as U+FFFD — without the copy TagName makes of every
// name: the bytes after "<" or "</" up to white space, "/" or ">".
func tagName(buf, raw []byte) []byte {
	raw = bytes.TrimPrefix(raw, []byte("<"))
	raw = bytes.TrimPrefix(raw, []byte("/"))
	for _, c := range raw {
		switch {
		case c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '/' || c == '>':
			return buf
		case c == 0:
			buf = append(buf, "\ufffd"...)
		case 'A' <= c && c <= 'Z':
			buf = append(buf, c+'a'-'A')
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

// elemName is the name of an element of atom a named tag: the atom's own
// string when it has one (no copy).
func elemName(a atom.Atom, tag []byte) string {
	if a != 0 {
		return a.String()
	}
	return string(tag)
}

// htmlStreamer is the second pass: it cuts the body (or the content root)
// into segments and walks them.
type htmlStreamer struct {
	ctx    context.Context
	src    sizedReaderAt
	buf    []byte // the current segment's source
	cfg    htmlStreamConfig
	w      *htmlWalker
	filter *contentFilter

	root     int  // -1: no content root; else the candidate's ordinal
	rootMain bool // the root is a main candidate (else an article)
	title    *html.Node

	scan     *htmlScan
	active   bool // inside the body (or the root): segments are walked
	done     bool // the root ended
	base     int  // stack depth of the innermost container
	segStart int
	chain    []*html.Node // the containers: document, html, body, entered elements
	depths   []int        // the walker's depth of each container
	kinds    []int        // per entered container: containerWalk, containerSkip
	skip     int          // entered containers whose content is dropped
	rootAt   int          // stack depth of the root (active in root mode)
	parsed   func(int)    // tests: told each segment's size
}

const (
	containerWalk = iota
	containerSkip
)

func (st *htmlStreamer) run() error {
	doc := &html.Node{Type: html.DocumentNode}
	htm := &html.Node{Type: html.ElementNode, DataAtom: atom.Html, Data: "html"}
	body := &html.Node{Type: html.ElementNode, DataAtom: atom.Body, Data: "body"}
	doc.AppendChild(htm)
	htm.AppendChild(body)
	st.scan = &htmlScan{src: st.src}
	w := st.w
	if st.root >= 0 && st.title != nil {
		if err := w.heading(st.title, 0); err != nil {
			return err
		}
	}
	ev := &htmlScanEvents{
		headTitle: func(t *html.Node) error {
			if st.root >= 0 {
				return nil
			}
			return w.heading(t, 3)
		},
		bodyStart: func(at int) error {
			if st.root >= 0 {
				return nil
			}
			st.active, st.segStart = true, at
			st.chain, st.depths, st.kinds = []*html.Node{doc, htm, body}, []int{0, 1, 2}, []int{containerWalk, containerWalk, containerWalk}
			w.newline() // <html> and <body> are blocks
			return nil
		},
		popped: st.popped,
		token:  st.token,
	}
	if err := st.scan.run(st.ctx, ev); err != nil {
		return err
	}
	if st.active {
		if err := st.flush(int(st.src.Size())); err != nil {
			return err
		}
		for len(st.kinds) > 0 {
			if err := st.exit(); err != nil {
				return err
			}
		}
	}
	if err := w.endBlock(); err != nil {
		return err
	}
	return w.b.flush()
}

// token runs after each body token: it finds the root, flushes a long
// enough segment at the container's level, and enters a long open element.
func (st *htmlStreamer) token() error {
	s := st.scan
	if st.done {
		return errScanDone
	}
	if !st.active {
		if st.root < 0 || len(s.stack) == 0 {
			return nil
		}
		e := s.stack[len(s.stack)-1]
		if (st.rootMain && e.main == st.root) || (!st.rootMain && e.article == st.root) {
			n, err := st.element(e)
			if err != nil {
				return err
			}
			doc := &html.Node{Type: html.DocumentNode}
			htm := &html.Node{Type: html.ElementNode, DataAtom: atom.Html, Data: "html"}
			body := &html.Node{Type: html.ElementNode, DataAtom: atom.Body, Data: "body"}
			doc.AppendChild(htm)
			htm.AppendChild(body)
			body.AppendChild(n)
			st.filter.root = n
			st.active, st.segStart, st.base, st.rootAt = true, e.inner, len(s.stack), len(s.stack)
			st.chain, st.depths, st.kinds = []*html.Node{n}, []int{0}, []int{containerWalk}
			if blockElement(n.DataAtom) {
				st.w.newline()
			}
		}
		return nil
	}
	if len(s.stack) == st.base && s.off-st.segStart >= st.cfg.segment {
		return st.flush(s.off)
	}
	for len(s.stack) > st.base && s.off-st.segStart >= st.cfg.descend {
		e := &s.stack[st.base]
		if e.fixed || e.start < st.segStart {
			return nil
		}
		if err := st.enter(e); err != nil {
			return err
		}
	}
	return nil
}

// element returns a node for the open element e, attributes read again
// from its start tag.
func (st *htmlStreamer) element(e openElem) (*html.Node, error) {
	n := &html.Node{Type: html.ElementNode, DataAtom: e.a, Data: e.name}
	tag, err := spanAt(st.src, int64(e.start), int64(e.inner), nil)
	if err != nil {
		return nil, err
	}
	z := html.NewTokenizer(bytes.NewReader(tag))
	if tt := z.Next(); tt == html.StartTagToken || tt == html.SelfClosingTagToken {
		for _, more := z.TagName(); more; {
			var k, v []byte
			k, v, more = z.TagAttr()
			n.Attr = append(n.Attr, html.Attribute{Key: string(k), Val: string(v)})
		}
	}
	return n, nil
}

// enterable reports elements a container may be: not parsed whole by the
// walker's own rules (headings, listings, tables and their parts, links,
// form controls).
func enterable(e openElem) bool {
	if e.foreign {
		return false
	}
	switch e.a {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Title, atom.Pre, atom.Listing, atom.Xmp,
		atom.Textarea, atom.Plaintext, atom.Table, atom.Caption, atom.Colgroup, atom.Thead, atom.Tbody, atom.Tfoot,
		atom.Tr, atom.Td, atom.Th, atom.A, atom.Select, atom.Option, atom.Optgroup, atom.Template, atom.Button,
		atom.Ruby, atom.Rt, atom.Rp, atom.Frameset, atom.Noscript, atom.Code, atom.Noembed, atom.Noframes:
		return false
	}
	return !formatting(e.a) || e.a == atom.Font
}

// enter makes the open element e (at the container's level) a container:
// the source before it is walked, and its content is cut at its children.
func (st *htmlStreamer) enter(e *openElem) error {
	n, err := st.element(*e)
	if err != nil {
		return err
	}
	if !enterable(*e) && !skipped(n) {
		e.fixed = true
		return nil
	}
	if err := st.flush(e.start); err != nil {
		return err
	}
	parent := st.chain[len(st.chain)-1]
	parent.AppendChild(n)
	depth := st.depths[len(st.depths)-1] + 1
	kind := containerWalk
	switch {
	case st.skip > 0, skipped(n), st.filter != nil && st.filter.dropMarkup(n):
		kind = containerSkip
		st.skip++
	case depth > st.w.max:
		return errTooDeep
	case blockElement(n.DataAtom):
		st.w.newline()
	}
	st.chain, st.depths, st.kinds = append(st.chain, n), append(st.depths, depth), append(st.kinds, kind)
	st.base++
	st.segStart = e.inner
	return nil
}

// popped closes the containers among the elements the scan pops.
func (st *htmlStreamer) popped(n, cut, resume int) error {
	if !st.active {
		return nil
	}
	if st.rootAt > 0 && n < st.rootAt {
		// The root ends: what follows is not walked.
		if err := st.flush(cut); err != nil {
			return err
		}
		for len(st.kinds) > 0 {
			if err := st.exit(); err != nil {
				return err
			}
		}
		st.active, st.done = false, true
		return nil
	}
	if n >= st.base {
		return nil
	}
	if err := st.flush(cut); err != nil {
		return err
	}
	for st.base > n {
		if err := st.exit(); err != nil {
			return err
		}
		st.base--
	}
	st.segStart = resume
	return nil
}

// exit ends the innermost container.
func (st *htmlStreamer) exit() error {
	last := len(st.chain) - 1
	n, kind := st.chain[last], st.kinds[last]
	st.chain, st.depths, st.kinds = st.chain[:last], st.depths[:last], st.kinds[:last]
	if n.Parent != nil && n.Type == html.ElementNode && n.DataAtom != atom.Html && n.DataAtom != atom.Body {
		n.Parent.RemoveChild(n)
	}
	if kind == containerSkip {
		st.skip--
		return nil
	}
	w := st.w
	if n.Type == html.ElementNode && blockElement(n.DataAtom) {
		w.newline()
		switch n.DataAtom {
		case atom.P, atom.Table, atom.Pre, atom.Ul, atom.Ol, atom.Blockquote:
			return w.endBlock()
		}
	}
	return nil
}

// flush walks the source from the segment's start to end, parsed in the
// innermost container's context.
func (st *htmlStreamer) flush(end int) error {
	start := st.segStart
	st.segStart = end
	if start == end || st.skip > 0 {
		return nil
	}
	ctxNode := st.chain[len(st.chain)-1] // the container: the fragment's context and parent
	depth := st.depths[len(st.depths)-1]
	if ctxNode.Type != html.ElementNode {
		return nil
	}
	seg, err := spanAt(st.src, int64(start), int64(end), st.buf)
	if err != nil {
		return err
	}
	st.buf = seg
	if st.parsed != nil {
		st.parsed(len(seg))
	}
	// The elements open around the segment: its container and their
	// ancestors (the content root's too).
	nodes, err := parseSegment(ctxReader{ctx: st.ctx, r: bytes.NewReader(seg)}, st.scan.quirks, st.scan.inForm(st.base))
	if err != nil {
		if st.ctx.Err() != nil {
			return st.ctx.Err()
		}
		return malformed("html", "nesting deeper than the parser allows")
	}
	for _, n := range nodes {
		ctxNode.AppendChild(n)
	}
	defer func() {
		for _, n := range nodes {
			ctxNode.RemoveChild(n)
		}
	}()
	if st.filter != nil {
		clear(st.filter.stats)
		for _, n := range nodes {
			st.filter.measure(n, false)
		}
	}
	for _, n := range nodes {
		if err := st.w.node(n, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// Segments are parsed in the document's mode: after a doctype the tree
// builder reads as standards mode, or after none (quirks mode).
// x/net/html's fragment parser always runs in standards mode (where a
// table closes an open p), so a segment is parsed as a document instead
// and its body's children taken. The container's own element is not
// needed as the context: only elements parsed in the body's insertion
// mode are entered (tables and their parts, selects, templates, foreign
// and raw-text elements are parsed whole), and of the elements open
// around a segment only a form changes how the body's content is parsed
// (a form start tag inside it is ignored): the segment is then parsed
// inside a form.
const (
	segmentStandards = "<!DOCTYPE html><body>"
	segmentQuirks    = "<body>"
	segmentForm      = "<form>"
)

// parseSegment parses a segment's source in the document's mode, inside
// a form when inForm, and returns its top-level nodes, detached.
func parseSegment(r io.Reader, quirks, inForm bool) ([]*html.Node, error) {
	prefix := segmentStandards
	if quirks {
		prefix = segmentQuirks
	}
	if inForm {
		prefix += segmentForm
	}
	doc, err := html.ParseWithOptions(io.MultiReader(strings.NewReader(prefix), r), html.ParseOptionEnableScripting(true))
	if err != nil {
		return nil, err
	}
	parent := segmentBody(doc)
	if parent != nil && inForm {
		parent = parent.FirstChild // the prefix's form comes first
	}
	if parent == nil {
		return nil, nil
	}
	var nodes []*html.Node
	for n := parent.FirstChild; n != nil; {
		next := n.NextSibling
		parent.RemoveChild(n)
		nodes = append(nodes, n)
		n = next
	}
	return nodes, nil
}

// segmentBody is a parsed segment's body element (the html element's).
func segmentBody(doc *html.Node) *html.Node {
	for h := doc.FirstChild; h != nil; h = h.NextSibling {
		if h.Type != html.ElementNode || h.DataAtom != atom.Html {
			continue
		}
		for b := h.FirstChild; b != nil; b = b.NextSibling {
			if b.Type == html.ElementNode && b.DataAtom == atom.Body {
				return b
			}
		}
	}
	return nil
}
