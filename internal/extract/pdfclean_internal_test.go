package extract

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantry/tenantry/pipeline"
)

func TestCleanPageText(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"pdfium soft hyphen inside a line", "manip\ufffeulation", "manipulation"},
		{"soft hyphen at a line end", "manip\u00ad\nulation of data", "manipulation of data"},
		{"pdfium soft hyphen at a line end", "decla\ufffe\nrations.", "declarations."},
		{"line-end hyphen joined", "the DER en-\ncoding of X", "the DER encoding\nof X"},
		{"compound keeps its hyphen", "a state-of-the-\nart design", "a state-of-the-art\ndesign"},
		{"hyphen before a capital kept", "see RFC-\n2119 and Foo-\nBar", "see RFC-\n2119 and Foo-\nBar"},
		{"hyphen after a digit kept", "ISO 8859-\nlatin", "ISO 8859-\nlatin"},
		{"dot leader", "2.1 ASN.1 syntax. . . . . . . . 2\nNaming.......... 3", "2.1 ASN.1 syntax … 2\nNaming … 3"},
		{"ellipsis kept", "and so on... done. A. B. C.", "and so on... done. A. B. C."},
		{"stray bytes around a mark do not join into a new one", "a\xef\ufffe\xbf\xbeb", "a\ufffd\ufffdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := cleanPageText(tt.in); got != tt.want {
				t.Fatalf("cleanPageText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPageNumberLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"7": true, "- 7 -": true, "Page 7": true, "page 7 of 30": true, "7 / 30": true, "iv": true, "(xii)": true,
		"mix": false, "mild": false, "7 apples": false, "Chapter 7": false, "": false, "2019-2022": false, "1234567": false,
	} {
		if got := pageNumberLine(in); got != want {
			t.Errorf("pageNumberLine(%q) = %v, want %v", in, got, want)
		}
	}
}

// runCleaner pushes pages through a cleaner and returns all it emitted.
func runCleaner(window int, pages []string) []pipeline.Section {
	c := newPageCleaner(window)
	var out []pipeline.Section
	for i, p := range pages {
		out = append(out, c.Push(i+1, p)...)
	}
	return append(out, c.Flush()...)
}

func TestPageCleaner(t *testing.T) {
	t.Parallel()
	words := []string{"Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"}
	book := func(n int, header func(i int) string, footer func(i int) string) []string {
		pages := make([]string, n)
		for i := range pages {
			var b strings.Builder
			if header != nil {
				b.WriteString(header(i+1) + "\n")
			}
			fmt.Fprintf(&b, "%s says something.\nMore about %s.", words[i], words[i])
			if footer != nil {
				b.WriteString("\n" + footer(i+1))
			}
			pages[i] = b.String()
		}
		return pages
	}
	body := func(n int) []pipeline.Section {
		out := make([]pipeline.Section, n)
		for i := range out {
			out[i] = pipeline.Section{Text: fmt.Sprintf("%s says something.\nMore about %s.", words[i], words[i]), Page: i + 1}
		}
		return out
	}
	tests := []struct {
		name  string
		pages []string
		want  []pipeline.Section
	}{
		{"page numbers at the bottom", book(3, nil, func(i int) string { return fmt.Sprint(i) }), body(3)},
		{"chapter header with page number", book(6, func(i int) string { return fmt.Sprintf("Chapter 4: Functions %d", i) }, nil),
			append([]pipeline.Section{{Text: "Chapter 4: Functions 1\nAlpha says something.\nMore about Alpha.", Page: 1}}, body(6)[1:]...)},
		{"title header without numbers on every page, first page keeps it", book(5, func(int) string { return "Shared Database" }, func(i int) string { return fmt.Sprintf("- %d -", i) }),
			append([]pipeline.Section{{Text: "Shared Database\nAlpha says something.\nMore about Alpha.", Page: 1}}, body(5)[1:]...)},
		{"a line without numbers on only two pages stays", []string{"Intro\nabout", "Name Value\na 1", "Name Value\nb 2"},
			[]pipeline.Section{{Text: "Intro\nabout", Page: 1}, {Text: "Name Value\na 1", Page: 2}, {Text: "Name Value\nb 2", Page: 3}}},
		{"empty pages keep their numbers", []string{"", "12", "text"},
			[]pipeline.Section{{Text: "", Page: 1}, {Text: "", Page: 2}, {Text: "text", Page: 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, runCleaner(defaultCleanWindow, tt.pages)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestPageCleanerStreams: the cleaner holds at most window pages back, and
// a header repeated only far apart (beyond the window) is not taken as
// running.
func TestPageCleanerStreams(t *testing.T) {
	t.Parallel()
	c := newPageCleaner(2)
	for i := 1; i <= 10; i++ {
		out := c.Push(i, fmt.Sprintf("Running head %d\ntext %s", i, strings.Repeat("z", i)))
		if i > 2 && (len(out) != 1 || out[0].Page != i-2) {
			t.Fatalf("push %d: emitted %v, want page %d", i, out, i-2)
		}
		if len(c.pending) > 2 || len(c.recent) > 2 {
			t.Fatalf("push %d: holds %d pending, %d recent pages", i, len(c.pending), len(c.recent))
		}
	}
	if rest := c.Flush(); len(rest) != 2 || rest[1].Page != 10 || rest[1].Text != "text zzzzzzzzzz" {
		t.Fatalf("flush = %v", rest)
	}
	far := []string{"Appendix 9\na", "b", "c", "d", "e", "f", "g", "Appendix 9\nh"}
	if got := runCleaner(2, far); got[7].Text != "Appendix 9\nh" {
		t.Fatalf("a line repeated beyond the window was removed: %q", got[7].Text)
	}
}

// FuzzPageCleaner: any pages in, the same pages out, in order, valid UTF-8,
// no soft-hyphen marks left.
func FuzzPageCleaner(f *testing.F) {
	f.Add("Chapter 1 3\nmanip\ufffe\nulation\n4", "Chapter 1 4\nword-\nbreak . . . . . 5\n5", 2)
	f.Add("", "\n\n", 1)
	f.Add("i\nii\niii", "- 1 -", 3)
	f.Fuzz(func(t *testing.T, a, b string, window int) {
		window = 1 + (window&7+8)%8
		pages := []string{a, b, a, b, a}
		got := runCleaner(window, pages)
		if len(got) != len(pages) {
			t.Fatalf("%d pages out of %d", len(got), len(pages))
		}
		for i, s := range got {
			if s.Page != i+1 {
				t.Fatalf("page %d numbered %d", i+1, s.Page)
			}
			if utf8.ValidString(a) && utf8.ValidString(b) && !utf8.ValidString(s.Text) {
				t.Fatalf("invalid UTF-8 out: %q", s.Text)
			}
			if strings.ContainsAny(s.Text, "\u00ad\ufffe") {
				t.Fatalf("soft hyphen left: %q", s.Text)
			}
		}
	})
}
