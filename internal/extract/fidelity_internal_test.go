package extract

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tenantry/tenantry/pipeline"
)

// The fidelity corpus: real documents nobody in this project wrote (their
// sources and licences are in testdata/fidelity/SOURCES.md), each with the
// properties a reader expects of its text, and a reviewed expected text
// (<file>.expected.txt) against which boilerplate is measured.
//
// Write the expected text of a new document (=1), or regenerate them all
// after a deliberate change (=all; this also undoes the reviewers' edits),
// then review the diff line by line and remove any furniture still there:
//
//	TENANTRY_FIDELITY_UPDATE=1 go test ./internal/extract -run TestFidelity
type fidelityDoc struct {
	file      string
	mediaType string   // as uploaded (what the old CLI declared, for the Latin-1 page)
	headings  []string // must be heading sections
	want      []string // must be in the text (code and tables kept, lines apart)
	absent    []string // furniture that must be gone
	once      []string // must be in the text exactly once (a TOC repeats them)
	pages     int      // PDF: sections numbered 1..pages, one per page
	check     func(t *testing.T, out pipeline.Extracted)
}

var fidelityCorpus = []fidelityDoc{
	{file: "nodejs-path.html", mediaType: "text/html; charset=utf-8",
		headings: []string{"Path", "Windows vs. POSIX", "path.basename(path[, suffix])", "path.win32"},
		want: []string{
			"const path = require('node:path');\nimport path from 'node:path';",  // two listings in one <pre>, two lines
			"v6.0.0 | Passing a non-string as the path argument will throw now.", // a table row
			"path.basename('/foo/bar/baz/asdf/quux.html');\n// Returns: 'quux.html'",
		},
		absent: []string{"Skip to content", "Table of contents", "Index\n", "Assertion testing", "Asynchronous context tracking",
			"Other versions", "View another version", "Edit on GitHub", "Path#"},
		once: []string{"path.relative(from, to)"}},
	{file: "libffi-the-basics.html", mediaType: "text/html",
		headings: []string{"2.1 The Basics"},
		want:     []string{"Function: ffi_status ffi_prep_cif (ffi_cif *cif, ffi_abi abi, unsigned int nargs, ffi_type *rtype, ffi_type **argtypes)"},
		absent:   []string{"Next: Simple Example", "Up: Using libffi", "[Index]"}},
	{file: "valgrind-faq.html", mediaType: "text/html",
		headings: []string{"Valgrind Frequently Asked Questions", "1. Background", "2. Compiling, installing and configuring"},
		want:     []string{"% make: expand.c:489: allocated_variable_append: \n        Assertion 'current_variable_set_list->next != 0' failed."},
		absent:   []string{"Prev", "Up\n", "Home", "Next"},
		once:     []string{`How do you pronounce "Valgrind"?`}},
	{file: "libxslt-python-latin1.html", mediaType: "text/html; charset=utf-8", // the old CLI's wrong claim
		headings: []string{"Python and bindings"},
		want:     []string{"Stéphane Bidoul maintains a Windows port", "import libxml2\nimport libxslt"},
		absent:   []string{"Main Menu", "Related links", "API Indexes", "Search ...", "Made with Libxslt Logo", "GNOME2 Logo"}},
	{file: "debian-python-policy.html", mediaType: "text/html",
		headings: []string{"Debian Python Policy 0.12.0.0 documentation", "2.1. Removal of the unversioned packages", "2.3. dh-python", "3. Upgrade Procedure"},
		want: []string{"Build dependencies for Python-dependent packages must be declared for every Python version", // inside Sphinx's toctree-wrapper
			"Build-Depends: python2.7\nBuild-Depends: python2.6 (>= 2.6-1)"},
		absent: []string{"Navigation", "Created using Sphinx", "¶", "Table of Contents", "documentation »"},
		once:   []string{"3.5.1. Interpreter Name"}},
	{file: "pyyaml-README.md", mediaType: "text/markdown",
		headings: []string{"PyYAML", "Installation", "License"}},
	{file: "jansson-README.rst", mediaType: "text/plain", // as many clients send any text file
		headings: []string{"Jansson README", "Compilation and Installation", "Documentation"},
		want:     []string{"git clone https://github.com/Microsoft/vcpkg.git\n    cd vcpkg"},
		absent:   []string{".. image::", ":target:", "Jansson README\n=="}},
	{file: "libtasn1.pdf", mediaType: "application/pdf", pages: 36,
		want:   []string{"Distinguished Encoding Rules (DER) manipulation.", "structures management, and", "2.1 ASN.1 syntax … 2", "declarations."},
		absent: []string{". . . .", "Chapter 4: Function reference", "Appendix A: Copying Information", "manip-"},
		check: func(t *testing.T, out pipeline.Extracted) {
			// Page 12 starts with its text, not its running header.
			if p := out.Sections[11]; !strings.HasPrefix(p.Text, "asn1 array2tree") {
				t.Errorf("page 12 starts %q", firstLine(p.Text))
			}
		}},
	{file: "shared-mime-info-spec.pdf", mediaType: "application/pdf", pages: 17,
		once: []string{"Shared MIME-info Database\n"},
		check: func(t *testing.T, out pipeline.Extracted) {
			for _, p := range out.Sections {
				if lines := strings.Split(p.Text, "\n"); pageNumberLine(strings.TrimSpace(lines[len(lines)-1])) {
					t.Errorf("page %d ends with its page number %q", p.Page, lines[len(lines)-1])
				}
			}
		}},
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// fidelityExtractor returns an extractor for the corpus (reference: as
// before this change's furniture removal).
func fidelityExtractor(t testing.TB, reference bool) *Extractor {
	t.Helper()
	e, err := New(Config{PDFCacheDir: filepath.Join(os.TempDir(), "tenantry-test-pdfium-cache")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.setReference(reference)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func extractFile(t testing.TB, e *Extractor, d fidelityDoc) pipeline.Extracted {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fidelity", d.file))
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Extract(context.Background(), MediaType(d.mediaType, d.file), bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: %v", d.file, err)
	}
	return out
}

// render writes sections as the expected-text files hold them: "# " before
// a heading, "[page N]" before a page.
func render(out pipeline.Extracted) string {
	var b strings.Builder
	for _, s := range out.Sections {
		switch {
		case s.Heading:
			fmt.Fprintf(&b, "# %s\n\n", s.Text)
		case s.Page > 0:
			fmt.Fprintf(&b, "[page %d]\n%s\n\n", s.Page, s.Text)
		default:
			fmt.Fprintf(&b, "%s\n\n", s.Text)
		}
	}
	return b.String()
}

func TestFidelity(t *testing.T) {
	t.Parallel()
	e := fidelityExtractor(t, false)
	for _, d := range fidelityCorpus {
		t.Run(d.file, func(t *testing.T) {
			t.Parallel()
			out := extractFile(t, e, d)
			text := render(out)
			if strings.ContainsAny(text, "\ufffd\ufffe\u00ad") {
				t.Errorf("U+FFFD, U+FFFE or a soft hyphen in the text")
			}
			if !utf8.ValidString(text) {
				t.Errorf("invalid UTF-8")
			}
			var heads []string
			for _, s := range out.Sections {
				if s.Heading {
					heads = append(heads, s.Text)
				}
			}
			for _, h := range d.headings {
				if !slices.Contains(heads, h) {
					t.Errorf("heading %q missing; headings: %q", h, heads)
				}
			}
			for _, w := range d.want {
				if !strings.Contains(text, w) {
					t.Errorf("text lacks %q", w)
				}
			}
			for _, a := range d.absent {
				if strings.Contains(text, a) {
					t.Errorf("furniture %q is still there", a)
				}
			}
			for _, o := range d.once {
				if n := strings.Count(text, o); n != 1 {
					t.Errorf("%q appears %d times, want once", o, n)
				}
			}
			if d.pages > 0 {
				if len(out.Sections) != d.pages {
					t.Errorf("%d sections, want one per page (%d)", len(out.Sections), d.pages)
				}
				for i, s := range out.Sections {
					if s.Page != i+1 {
						t.Errorf("section %d has page %d", i, s.Page)
					}
				}
			}
			if d.check != nil {
				d.check(t, out)
			}
			golden := filepath.Join("testdata", "fidelity", d.file+".expected.txt")
			if u := os.Getenv("TENANTRY_FIDELITY_UPDATE"); u == "all" || (u != "" && !exists(golden)) {
				if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			m := measureFidelity(text, string(want))
			// The expected text was reviewed; drift beyond a little is a
			// regression (furniture back, or content lost).
			if m.boilerShare() > 0.02 || m.recall() < 0.98 {
				t.Errorf("against the expected text: boilerplate %.1f %%, recall %.1f %% (want ≤ 2 %%, ≥ 98 %%)", 100*m.boilerShare(), 100*m.recall())
			}
		})
	}
}

// fidelity compares an extracted text with the expected one, word by word
// (multisets of white-space separated words, counted in characters):
// extra words are furniture the extractor kept (boilerplate), missing
// words content it lost.
type fidelity struct {
	outChars, extraChars, expectedChars, keptChars int
}

func (m fidelity) boilerShare() float64 {
	if m.outChars == 0 {
		return 0
	}
	return float64(m.extraChars) / float64(m.outChars)
}

func (m fidelity) recall() float64 {
	if m.expectedChars == 0 {
		return 1
	}
	return float64(m.keptChars) / float64(m.expectedChars)
}

func (m *fidelity) add(o fidelity) {
	m.outChars += o.outChars
	m.extraChars += o.extraChars
	m.expectedChars += o.expectedChars
	m.keptChars += o.keptChars
}

func measureFidelity(got, expected string) fidelity {
	exp := map[string]int{}
	var m fidelity
	for _, w := range fidelityWords(expected) {
		exp[w]++
		m.expectedChars += utf8.RuneCountInString(w)
	}
	for _, w := range fidelityWords(got) {
		n := utf8.RuneCountInString(w)
		m.outChars += n
		if exp[w] > 0 {
			exp[w]--
			m.keptChars += n
		} else {
			m.extraChars += n
		}
	}
	return m
}

// fidelityWords are the words of a rendered text, without the rendering's
// own markers.
func fidelityWords(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "[page ") {
			continue
		}
		line = strings.TrimPrefix(line, "# ")
		out = append(out, strings.Fields(line)...)
	}
	return out
}

// TestFidelityReport measures the share of extracted characters that are
// boilerplate (words beyond the reviewed expected text) and the share of
// the expected text kept, for each corpus document, before (the reference
// mode: the extractor without furniture removal and PDF page cleaning) and
// after, in the same run. It runs when TENANTRY_FIDELITY_DOC (a path: the
// table is written there as Markdown, as make bench does) or TENANTRY_BENCH
// is set; TestFidelity guards the same texts in every run.
func TestFidelityReport(t *testing.T) {
	if os.Getenv("TENANTRY_FIDELITY_DOC") == "" && os.Getenv("TENANTRY_BENCH") == "" {
		t.Skip("a measurement: set TENANTRY_FIDELITY_DOC=path (make bench does) or TENANTRY_BENCH")
	}
	t.Parallel()
	before, after := fidelityExtractor(t, true), fidelityExtractor(t, false)
	var b strings.Builder
	fmt.Fprintln(&b, "| document | format | characters before → after | boilerplate before | boilerplate after | expected text kept before | after |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|")
	var totB, totA fidelity
	for _, d := range fidelityCorpus {
		want, err := os.ReadFile(filepath.Join("testdata", "fidelity", d.file+".expected.txt"))
		if err != nil {
			t.Fatal(err)
		}
		mb := measureFidelity(render(extractFile(t, before, d)), string(want))
		ma := measureFidelity(render(extractFile(t, after, d)), string(want))
		totB.add(mb)
		totA.add(ma)
		fmt.Fprintf(&b, "| %s | %s | %d → %d | %.1f %% | %.1f %% | %.1f %% | %.1f %% |\n", d.file, formatName(strings.SplitN(MediaType(d.mediaType, d.file), ";", 2)[0]),
			mb.outChars, ma.outChars, 100*mb.boilerShare(), 100*ma.boilerShare(), 100*mb.recall(), 100*ma.recall())
	}
	fmt.Fprintf(&b, "| **all** | | %d → %d | **%.1f %%** | **%.1f %%** | %.1f %% | %.1f %% |\n",
		totB.outChars, totA.outChars, 100*totB.boilerShare(), 100*totA.boilerShare(), 100*totB.recall(), 100*totA.recall())
	t.Logf("extraction fidelity:\n%s", b.String())
	if totA.boilerShare() >= totB.boilerShare() {
		t.Errorf("boilerplate share did not drop: %.1f %% → %.1f %%", 100*totB.boilerShare(), 100*totA.boilerShare())
	}
	if path := os.Getenv("TENANTRY_FIDELITY_DOC"); path != "" {
		doc := "## Extraction fidelity\n\n" +
			"Real documents from Debian packages (`internal/extract/testdata/fidelity`, sources and licences in its SOURCES.md),\n" +
			"extracted in the same run by the extractor without furniture removal and PDF page cleaning (*before*, its\n" +
			"reference mode) and as it is (*after*). Boilerplate: the share of extracted characters (words, counted in\n" +
			"characters) that are not in the reviewed expected text — navigation, sidebars, tables of contents, running\n" +
			"headers, page numbers, dot leaders, words garbled by soft hyphens. Kept: the share of the expected text extracted.\n" +
			"The expected texts are this extractor's output, reviewed by hand with the furniture it still left removed (the\n" +
			"Latin-1 page's site banner): *after* is therefore near zero by construction and guards against regressions,\n" +
			"*before* is the measure. The reference mode covers HTML furniture and PDF page cleaning only; the charset\n" +
			"fallback and the new text formats apply to both columns (the Latin-1 page had U+FFFD before them).\n\n" +
			b.String() + "\nCommand: `go test -count=1 -run '^TestFidelityReport$' -v ./internal/extract` (part of `make bench`).\n"
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkFidelity reports the cost of furniture removal and PDF page
// cleaning: each corpus document extracted in the reference mode and as it
// is (compare the two sub-benchmarks' ns/op in the same run).
func BenchmarkFidelity(b *testing.B) {
	modes := []struct {
		name string
		e    *Extractor
	}{{"reference", fidelityExtractor(b, true)}, {"content", fidelityExtractor(b, false)}}
	for _, d := range fidelityCorpus {
		src, err := os.ReadFile(filepath.Join("testdata", "fidelity", d.file))
		if err != nil {
			b.Fatal(err)
		}
		mt := MediaType(d.mediaType, d.file)
		for _, m := range modes {
			b.Run(d.file+"/"+m.name, func(b *testing.B) {
				b.SetBytes(int64(len(src)))
				for b.Loop() {
					if _, err := m.e.Extract(context.Background(), mt, bytes.NewReader(src), int64(len(src))); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
