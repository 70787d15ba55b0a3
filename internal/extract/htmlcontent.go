package extract

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// contentFilter keeps a page's main content and drops its furniture: the
// navigation, sidebars, headers and footers, skip links, tables of contents
// and version pickers that every page of a site repeats, and that would
// otherwise become chunks matching every query. The heuristic (chosen over
// go-readability by measurement, see doc.go) works on the x/net/html tree:
//
//  1. The content root is the page's one <main> (or role="main") element,
//     else its one <article>, else the whole document.
//  2. Inside it these are dropped: <nav>, <aside>, <footer>, <form>; a
//     <header> outside any article/main/section; ARIA landmarks that are
//     not content (navigation, complementary, banner, contentinfo, search,
//     menu, menubar, toolbar); elements whose class or id names furniture
//     (nav, menu, sidebar, breadcrumb, toc, footer, header, skip, pager,
//     picker, …) when their text is mostly links (at least 30 %), or short
//     (at most 300 characters, no heading), and not most of the page's
//     text (unless more than half of it is links); skip links
//     ("Skip to content") and headings' permalink markers; tables of
//     contents (lists of at least two links, all into pages, at least 70 %
//     link text); and link farms: lists, tables, cells, divisions and
//     paragraphs with at least four links whose text is at least 70 % link
//     text.
//  3. Everything else is kept: headings, paragraphs, tables, code, lists,
//     and the alt text of images that are not links (a linked image is a
//     logo or a badge).
type contentFilter struct {
	stats map[*html.Node]linkStats
	// total is the text length of the content root.
	total int
	// root, when set, is the content root: never dropped.
	root *html.Node
}

// linkStats measure an element's text: all of it, the part inside links,
// the number of links and how many of them point into a page (#fragment).
type linkStats struct{ text, link, links, frag, heads int }

// newContentFilter measures every element under root.
func newContentFilter(root *html.Node) *contentFilter {
	f := &contentFilter{stats: map[*html.Node]linkStats{}}
	f.total = f.measure(root, false).text
	return f
}

func (f *contentFilter) measure(n *html.Node, inLink bool) linkStats {
	var s linkStats
	switch n.Type {
	case html.TextNode:
		l := visibleLen(n.Data)
		s.text = l
		if inLink {
			s.link = l
		}
		return s
	case html.ElementNode, html.DocumentNode:
	default:
		return s
	}
	if n.Type == html.ElementNode {
		if skipped(n) {
			f.stats[n] = s
			return s
		}
		if href := htmlAttr(n, "href"); n.DataAtom == atom.A && href != "" {
			inLink = true
			s.links++
			if strings.Contains(href, "#") {
				s.frag++
			}
		}
		if headingLevel(n.DataAtom) {
			s.heads++
		}
		if n.DataAtom == atom.Img {
			l := visibleLen(htmlAttr(n, "alt"))
			s.text = l
			if inLink {
				s.link = l
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		cs := f.measure(c, inLink)
		s.text += cs.text
		s.link += cs.link
		s.links += cs.links
		s.frag += cs.frag
		s.heads += cs.heads
	}
	if n.Type == html.ElementNode {
		f.stats[n] = s
	}
	return s
}

// visibleLen counts the characters of s that are not white space.
func visibleLen(s string) int {
	n := 0
	for _, r := range s {
		if r > ' ' {
			n++
		}
	}
	return n
}

// visibleLenBytes is visibleLen of string(b), without the copy.
func visibleLenBytes(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r > ' ' {
			n++
		}
		b = b[size:]
	}
	return n
}

// contentRoot returns the page's one main or article element, or nil when
// there is none (or more than one).
func contentRoot(doc *html.Node) *html.Node {
	var mains, articles []*html.Node
	var walk func(n *html.Node, depth int)
	walk = func(n *html.Node, depth int) {
		if depth > 512 || (n.Type == html.ElementNode && skipped(n)) {
			return
		}
		if n.Type == html.ElementNode {
			switch {
			case n.DataAtom == atom.Main, strings.EqualFold(htmlAttr(n, "role"), "main"):
				mains = append(mains, n)
				return // a main inside a main is the same content
			case n.DataAtom == atom.Article:
				articles = append(articles, n)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, depth+1)
		}
	}
	walk(doc, 0)
	switch {
	case len(mains) == 1:
		return mains[0]
	case len(mains) == 0 && len(articles) == 1:
		return articles[0]
	}
	return nil
}

// furnitureRoles are ARIA roles of page furniture.
var furnitureRoles = map[string]bool{
	"navigation": true, "complementary": true, "banner": true, "contentinfo": true,
	"search": true, "menu": true, "menubar": true, "toolbar": true,
}

// furnitureWords are words of class and id values that name page
// furniture ("site-nav", "sidebar_left", "toc").
var furnitureWords = map[string]bool{
	"nav": true, "navbar": true, "navigation": true, "navbox": true, "navpanel": true, "sidenav": true,
	"menu": true, "menubar": true, "sidebar": true, "sphinxsidebar": true, "breadcrumb": true,
	"breadcrumbs": true, "toc": true, "gtoc": true, "toctree": true, "footer": true, "header": true,
	"masthead": true, "skip": true, "skiplink": true, "pager": true, "pagination": true,
	"picker": true, "cookie": true, "cookies": true, "share": true, "social": true, "related": true,
	"relbar": true, "topbar": true, "headerlink": true, "banner": true,
}

// drop reports whether the element n is furniture.
func (f *contentFilter) drop(n *html.Node) bool {
	if n == f.root {
		return false
	}
	if n.DataAtom == atom.A {
		return skipLink(n)
	}
	return f.dropMarkup(n) || f.dropText(n)
}

// dropMarkup reports furniture told by its markup alone: landmarks, a
// header outside the content, furniture roles.
func (f *contentFilter) dropMarkup(n *html.Node) bool {
	if n == f.root {
		return false
	}
	switch n.DataAtom {
	case atom.Nav, atom.Aside, atom.Footer, atom.Form:
		return true
	case atom.Header:
		if !inside(n, atom.Article, atom.Main, atom.Section) {
			return true
		}
	}
	return furnitureRoles[strings.ToLower(strings.TrimSpace(htmlAttr(n, "role")))]
}

// dropText reports furniture told by the text under it (the element is
// measured): link farms, tables of contents, furniture-named elements that
// are mostly links or short.
func (f *contentFilter) dropText(n *html.Node) bool {
	s := f.stats[n]
	if furnitureName(htmlAttr(n, "class")) || furnitureName(htmlAttr(n, "id")) {
		// The name is a hint, the text decides. Furniture is links (menus,
		// tables of contents, breadcrumbs, pickers) or a short line of
		// text (a site header, a copyright footer). A wrapper named
		// "page-header" that holds most of the page is the page, and a
		// "toctree-wrapper" holding whole sections (Sphinx's single-page
		// builds) is content.
		big := s.text*2 > f.total
		linky := s.link*10 >= s.text*3
		switch {
		case linky && (!big || s.link*2 >= s.text):
			return true
		case !linky && !big && s.text <= 300 && s.heads == 0:
			return true
		}
	}
	switch n.DataAtom {
	case atom.Ul, atom.Ol, atom.Dl, atom.Menu:
		// A table of contents: a list of links into pages.
		if s.frag >= 2 && s.frag == s.links && s.link*10 >= s.text*7 {
			return true
		}
	}
	switch n.DataAtom {
	case atom.Ul, atom.Ol, atom.Dl, atom.Menu, atom.Table, atom.Tbody, atom.Tr, atom.Td, atom.Div, atom.Section, atom.P:
		if s.links >= 4 && s.link*10 >= s.text*7 {
			return true
		}
	}
	return false
}

// furnitureName reports a class or id value with a word naming furniture.
func furnitureName(v string) bool {
	if v == "" {
		return false
	}
	for _, tok := range strings.Fields(strings.ToLower(v)) {
		if furnitureWords[tok] {
			return true
		}
		for _, w := range strings.FieldsFunc(tok, func(r rune) bool { return r == '-' || r == '_' || r == '.' || r == ':' }) {
			if furnitureWords[w] {
				return true
			}
		}
	}
	return false
}

// skipLink reports an in-page link such as "Skip to content".
func skipLink(n *html.Node) bool {
	if !strings.HasPrefix(htmlAttr(n, "href"), "#") {
		return false
	}
	t := strings.ToLower(collapseSpace(nodeText(n, 64)))
	switch t {
	case "#", "¶", "§", "🔗", "permalink":
		return true // a heading's permalink marker
	}
	return strings.HasPrefix(t, "skip to") || strings.HasPrefix(t, "jump to") || strings.HasPrefix(t, "skip navigation")
}

// nodeText returns up to max bytes of the text under n.
func nodeText(n *html.Node, max int) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil && b.Len() < max; c = c.NextSibling {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			}
			walk(c)
		}
	}
	walk(n)
	s := b.String()
	if len(s) > max {
		s = s[:max]
	}
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1] // at most three bytes of a cut rune
	}
	return s
}

// inside reports whether n has an ancestor of one of the given kinds (or
// with role="main").
func inside(n *html.Node, kinds ...atom.Atom) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.Type != html.ElementNode {
			continue
		}
		for _, k := range kinds {
			if p.DataAtom == k {
				return true
			}
		}
		if strings.EqualFold(htmlAttr(p, "role"), "main") {
			return true
		}
	}
	return false
}

// linkedImage reports an image inside a link.
func linkedImage(n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && p.DataAtom == atom.A {
			return true
		}
	}
	return false
}

func htmlAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val
		}
	}
	return ""
}
