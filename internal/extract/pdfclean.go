package extract

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tenantry/tenantry/pipeline"
)

// pageCleaner removes what a PDF's layout adds to its text and a reader
// skips: running headers and footers, page numbers, dot leaders, and the
// hyphens that break words at line ends. It works on a stream of pages with
// bounded lookahead: Push takes pages in order and returns those whose fate
// is decided (each page waits until `window` later pages were seen, so
// memory holds at most window+1 pages' text); Flush returns the rest at the
// end of the document. Pages are never merged or dropped: an emptied page
// stays, with its number.
//
// A line at the top or bottom of a page (the first or last two non-blank
// lines) is a running header or footer when the same line, with its
// numbers ignored, is at the top or bottom of other pages within `window`
// pages before or after it: in at least two pages (this one included) when
// the line has a number (a page number or a chapter), in at least three
// when it has none. The document's first page keeps such lines (they are
// its title). A top or bottom line that is only a page number ("7", "iv",
// "- 7 -", "Page 7 of 30") always goes.
type pageCleaner struct {
	window  int
	pending []cleanPage // pushed, not yet emitted, in order
	recent  []cleanPage // the last `window` emitted pages (for their edge keys)
	first   bool        // the next emitted page is the document's first
}

type cleanPage struct {
	number int
	lines  []string // after per-page cleanup
	top    []string // keys of the first two non-blank lines
	bottom []string // keys of the last two non-blank lines
}

// defaultCleanWindow is how many pages before and after a page are
// compared with it.
const defaultCleanWindow = 4

func newPageCleaner(window int) *pageCleaner {
	if window < 1 {
		window = defaultCleanWindow
	}
	return &pageCleaner{window: window, first: true}
}

// Push adds the text of page number (1-based) and returns the pages that
// are now final, cleaned, in order.
func (c *pageCleaner) Push(number int, text string) []pipeline.Section {
	p := cleanPage{number: number, lines: strings.Split(cleanPageText(text), "\n")}
	p.top, p.bottom = edgeKeys(p.lines)
	c.pending = append(c.pending, p)
	var out []pipeline.Section
	for len(c.pending) > c.window {
		out = append(out, c.emit())
	}
	return out
}

// Flush returns every page still held, cleaned, in order.
func (c *pageCleaner) Flush() []pipeline.Section {
	var out []pipeline.Section
	for len(c.pending) > 0 {
		out = append(out, c.emit())
	}
	return out
}

// emit decides the oldest pending page against its neighbours and returns
// it.
func (c *pageCleaner) emit() pipeline.Section {
	p := c.pending[0]
	c.pending = c.pending[1:]
	neighbours := make([]cleanPage, 0, len(c.recent)+len(c.pending))
	neighbours = append(neighbours, c.recent...)
	neighbours = append(neighbours, c.pending...)
	lines := stripEdges(p.lines, c.first, func(key string, top bool) bool {
		return repeatedEdge(key, top, neighbours)
	})
	c.first = false
	c.recent = append(c.recent, p)
	if len(c.recent) > c.window {
		c.recent = c.recent[1:]
	}
	return pipeline.Section{Text: strings.TrimSpace(strings.Join(lines, "\n")), Page: p.number}
}

// repeatedEdge reports whether key (an edge line's key) is at the same
// edge of enough neighbouring pages.
func repeatedEdge(key string, top bool, neighbours []cleanPage) bool {
	if key == "" {
		return false
	}
	need := 2 // this page and one more
	if !strings.Contains(key, "#") {
		need = 3
	}
	n := 1
	for _, q := range neighbours {
		keys := q.bottom
		if top {
			keys = q.top
		}
		for _, k := range keys {
			if k == key {
				n++
				break
			}
		}
	}
	return n >= need
}

// stripEdges drops page numbers and running lines from the top and bottom
// of a page (at most two lines at each end).
func stripEdges(lines []string, firstPage bool, running func(key string, top bool) bool) []string {
	drop := func(line string, top bool) bool {
		t := strings.TrimSpace(line)
		if pageNumberLine(t) {
			return true
		}
		return !firstPage && running(edgeKey(t), top)
	}
	for range 2 {
		i := firstText(lines)
		if i < 0 || !drop(lines[i], true) {
			break
		}
		lines = lines[i+1:]
	}
	for range 2 {
		i := lastText(lines)
		if i < 0 || !drop(lines[i], false) {
			break
		}
		lines = lines[:i]
	}
	return lines
}

func firstText(lines []string) int {
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			return i
		}
	}
	return -1
}

func lastText(lines []string) int {
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			return i
		}
	}
	return -1
}

// edgeKeys returns the keys of a page's first two and last two non-blank
// lines.
func edgeKeys(lines []string) (top, bottom []string) {
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" {
			top = append(top, edgeKey(t))
			if len(top) == 2 {
				break
			}
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if t := strings.TrimSpace(lines[i]); t != "" {
			bottom = append(bottom, edgeKey(t))
			if len(bottom) == 2 {
				break
			}
		}
	}
	return top, bottom
}

// edgeKey is a line compared across pages: lower case, runs of digits and
// roman-numeral words as "#", spaces collapsed. Long lines are prose, never
// running lines: their key is empty (and never matches).
func edgeKey(line string) string {
	if utf8.RuneCountInString(line) > 120 {
		return ""
	}
	var b strings.Builder
	for i, w := range strings.Fields(strings.ToLower(line)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		if romanNumeral(w) {
			b.WriteByte('#')
			continue
		}
		digits := false
		for _, r := range w {
			if r >= '0' && r <= '9' {
				if !digits {
					b.WriteByte('#')
				}
				digits = true
				continue
			}
			digits = false
			b.WriteRune(r)
		}
	}
	return b.String()
}

var pageNumberRE = regexp.MustCompile(`^(?i)(?:page\s+)?[-–—(\[]?\s*(\d{1,5}|[ivxlc]{1,7})\s*[-–—)\]]?(?:\s*(?:/|of)\s*\d{1,5})?$`)

// pageNumberLine reports a line that is only a page number ("7", "iv",
// "- 7 -", "Page 7 of 30").
func pageNumberLine(t string) bool {
	if t == "" || len(t) > 24 {
		return false
	}
	m := pageNumberRE.FindStringSubmatch(t)
	if m == nil {
		return false
	}
	return unicode.IsDigit(rune(m[1][0])) || romanNumeral(strings.ToLower(m[1]))
}

var romanRE = regexp.MustCompile(`^c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})$`)

// romanNumeral reports a lower-case roman numeral up to 399 (front matter
// is numbered so; "mix" and "dim" are words).
func romanNumeral(w string) bool {
	return w != "" && len(w) <= 7 && romanRE.MatchString(w)
}

// dotLeaderRE finds dot leaders: five or more dots, each separated by at
// most one space ("Introduction . . . . . 1", "Naming.......3").
var dotLeaderRE = regexp.MustCompile(`[ \t]*\.(?: ?\.){4,}[ \t]*`)

// cleanPageText joins words broken by soft hyphens (U+00AD, and the U+FFFE
// that PDFium emits for a hyphen it judged soft) and by line-end hyphens,
// and collapses dot leaders into " … ".
func cleanPageText(text string) string {
	// Bytes that are not UTF-8 become U+FFFD first: removing a mark from
	// between stray bytes must not join them into a new mark (found by
	// FuzzPageCleaner: "\xef" U+FFFE "\xbf\xbe"). PDFium's text is UTF-8
	// already, which this returns unchanged.
	text = strings.ToValidUTF8(text, "\ufffd")
	if strings.ContainsAny(text, "\u00ad\ufffe") {
		text = strings.NewReplacer("\u00ad\n", "", "\ufffe\n", "", "\u00ad", "", "\ufffe", "").Replace(text)
	}
	lines := strings.Split(text, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if j := hyphenBreak(lines[i], lines[i+1]); j > 0 {
			// "manip-" + "ulation of data": the word is rejoined on this line.
			next := strings.TrimLeft(lines[i+1], " \t")
			word, rest, _ := strings.Cut(next, " ")
			head := lines[i][:j]
			if k := strings.LastIndexAny(head, " \t"); strings.Contains(head[k+1:], "-") {
				head += "-" // "state-of-the-" + "art": a compound keeps its hyphen
			}
			lines[i] = head + word
			lines[i+1] = rest
		}
	}
	text = strings.Join(lines, "\n")
	if strings.Contains(text, ". .") || strings.Contains(text, ".....") {
		text = dotLeaderRE.ReplaceAllString(text, " … ")
	}
	return text
}

// hyphenBreak returns where the hyphen that ends line starts, when line
// ends with a word broken by a hyphen ("manip-") and next goes on with a
// lower-case letter; 0 otherwise.
func hyphenBreak(line, next string) int {
	line = strings.TrimRight(line, " \t")
	if !strings.HasSuffix(line, "-") || len(line) < 3 {
		return 0
	}
	before, _ := utf8.DecodeLastRuneInString(line[:len(line)-1])
	after, _ := utf8.DecodeRuneInString(strings.TrimLeft(next, " \t"))
	if !unicode.IsLower(before) || !unicode.IsLower(after) {
		return 0
	}
	return len(line) - 1
}

// pageCleaner returns the cleaner for one PDF: a pass-through in the
// reference mode of the fidelity measurements.
func (e *Extractor) pageCleaner() interface {
	Push(number int, text string) []pipeline.Section
	Flush() []pipeline.Section
} {
	if e.reference {
		return passThrough{}
	}
	return newPageCleaner(defaultCleanWindow)
}

type passThrough struct{}

func (passThrough) Push(number int, text string) []pipeline.Section {
	return []pipeline.Section{{Text: text, Page: number}}
}
func (passThrough) Flush() []pipeline.Section { return nil }
