package extract

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
	"weak"

	"github.com/google/go-cmp/cmp"
	"github.com/yuin/goldmark/ast"

	"github.com/tenantry/tenantry/pipeline"
)

// mdEqualityInputs are the Markdown of the fidelity corpus, the Markdown
// fuzz seeds, and the constructs that make a heading line not a cut.
func mdEqualityInputs(t *testing.T) map[string]string {
	t.Helper()
	in := map[string]string{
		"seed all":          "# T\n\ntext *em* [l](u)\n\n- a\n  - b\n\n| a | b |\n|-|-|\n| 1 | 2 |\n",
		"seed quote":        "> > > q",
		"seed fence":        "```\ncode\n```",
		"seed html":         "<div>x<script>y</script></div>",
		"seed brackets":     "[[[[[[a]]]]]]",
		"seed emphasis":     "***a***",
		"heading in fence":  "# A\n\ntext\n\n```sh\n# a comment, not a heading\nls\n```\n# B\n\nmore\n~~~\n# nor this\n~~~\n## C\n",
		"heading in html":   "# A\n\n<div>\n# inside an HTML block\n</div>\n\n# B\n\n<!--\n# in a comment\n-->\n# C\nend\n",
		"reference later":   "# A\n\nsee [the docs][docs] and [Ref]\n\n# B\n\n[docs]: https://example.com/docs\n[ref]: </x> \"title\"\n\n# C\n\n[again][docs]\n",
		"reference unknown": "# A\n\n[not a link][nope]\n\n# B\n\n[docs]: /d\n",
		"lists and quotes":  "# A\n\n- one\n- two\n\n  para in item\n# B\n> quoted\n# C\n1. x\n2. y\n#D not a heading\n#\n# E\n",
		"setext":            "Title\n=====\n\n# A\npara\n---\n\n# B\n",
		"table across":      "# A\n| a | b |\n|---|---|\n| 1 | 2 |\n# B\n| c |\n|---|\n| 3 |\n",
		"indented heading":  "# A\n\n    # indented code\n\n # one space\n\n# B\n",
		"no trailing line":  "# A\ntext\n# B",
		"crlf":              "# A\r\ntext\r\n# B\r\nmore\r\n",
	}
	b, err := os.ReadFile(filepath.Join("testdata", "fidelity", "pyyaml-README.md"))
	if err != nil {
		t.Fatal(err)
	}
	in["pyyaml-README.md"] = string(b)
	return in
}

// TestMarkdownStreamMatchesWhole: the incremental reader, forced on every
// document and cut at every heading it can be, hands over exactly the
// sections of the whole parse.
func TestMarkdownStreamMatchesWhole(t *testing.T) {
	t.Parallel()
	for name, src := range mdEqualityInputs(t) {
		for _, seg := range []int{0, 1, 64, 4 << 10} {
			t.Run(name+"/segment "+strconv.Itoa(seg), func(t *testing.T) {
				t.Parallel()
				whole, stream := mdBoth(t, src, mdStreamConfig{above: -1, segment: seg})
				if diff := cmp.Diff(whole, stream); diff != "" {
					t.Errorf("streamed sections differ from the whole parse (-whole +streamed):\n%s", diff)
				}
			})
		}
	}
}

func mdBoth(t testing.TB, src string, sc mdStreamConfig) (whole, stream []pipeline.Section) {
	t.Helper()
	e := newTestExtractor(t, Config{MaxTextBytes: 64 << 10})
	out, errWhole := e.Extract(context.Background(), "text/markdown", strings.NewReader(src), int64(len(src)))
	e.mdStream = &sc
	var j joined
	errStream := e.ExtractTo(context.Background(), "text/markdown", strings.NewReader(src), int64(len(src)), sinkFunc(func(s pipeline.Section) error {
		if !utf8.ValidString(s.Text) {
			t.Fatalf("invalid UTF-8 handed over: %q", s.Text)
		}
		return j.Add(s)
	}))
	if (errWhole == nil) != (errStream == nil) {
		t.Fatalf("whole: %v, streamed: %v", errWhole, errStream)
	}
	if errWhole != nil {
		if errWhole.Error() != errStream.Error() {
			t.Fatalf("whole: %v, streamed: %v", errWhole, errStream)
		}
		return nil, nil
	}
	return out.Sections, j.out
}

// FuzzMarkdownStream: the incremental reader, cut at every heading it can
// be, hands over exactly the sections of the whole parse (or fails the
// same way) for any input.
func FuzzMarkdownStream(f *testing.F) {
	for _, s := range []string{"# T\n\ntext *em* [l](u)\n\n- a\n  - b\n", "# A\n```\n# x\n```\n# B\n", "# A\n[x][y]\n# B\n[y]: /z\n",
		"# A\n<div>\n# h\n</div>\n# B\n", "> q\n# A\n- l\n# B\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 32<<10 {
			return
		}
		whole, stream := mdBoth(t, src, mdStreamConfig{above: -1, segment: 0})
		if diff := cmp.Diff(whole, stream); diff != "" {
			t.Fatalf("streamed sections differ from the whole parse (-whole +streamed):\n%s", diff)
		}
	})
}

// TestMarkupStreamMatchesWhole: reStructuredText, AsciiDoc and Org handed
// over section by section are the sections of the whole extraction.
func TestMarkupStreamMatchesWhole(t *testing.T) {
	t.Parallel()
	rst, err := os.ReadFile(filepath.Join("testdata", "fidelity", "jansson-README.rst"))
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{string(rst), "Title\n=====\n\ntext\n", "=====\nT\n=====\n", ".. image:: x\n   :target: y\n",
		"= A\n== B\n", "* H\n** I\n#+TITLE: t\n", "---\n---\n---", strings.Repeat("= Part\n\nsome text of the part\n\n", 5000)}
	for _, kind := range []string{TypeRST, TypeAsciiDoc, TypeOrg} {
		for i, src := range inputs {
			t.Run(kind+"/"+strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				e := newTestExtractor(t, Config{})
				out, errWhole := e.Extract(context.Background(), kind, strings.NewReader(src), int64(len(src)))
				var j joined
				errStream := e.ExtractTo(context.Background(), kind, strings.NewReader(src), int64(len(src)), &j)
				if (errWhole == nil) != (errStream == nil) {
					t.Fatalf("whole: %v, streamed: %v", errWhole, errStream)
				}
				if diff := cmp.Diff(out.Sections, j.out); errWhole == nil && diff != "" {
					t.Errorf("differs (-whole +streamed):\n%s", diff)
				}
			})
		}
	}
}

// TestMarkdownStreamLetsTreesGo: the trees the first pass parses (to find
// the cuts and the reference definitions) are not held while the second
// pass runs: the definitions kept are copies, not nodes of those trees.
func TestMarkdownStreamLetsTreesGo(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "## Part %d\n\n[p%d]: /parts/%d \"Part\"\n\nSee [the part][p%d] and [p%d].\n\n", i, i, i, i, i)
	}
	src := b.String()
	e := newTestExtractor(t, Config{})
	e.mdStream = &mdStreamConfig{above: 1 << 10, segment: 1 << 10}
	var trees []weak.Pointer[ast.Document]
	e.mdFirstPass = func(doc ast.Node) { trees = append(trees, weak.Make(doc.(*ast.Document))) }
	held := -1
	err := e.ExtractTo(context.Background(), "text/markdown", strings.NewReader(src), int64(len(src)), sinkFunc(func(pipeline.Section) error {
		if held < 0 { // the first section: the first pass is over
			runtime.GC()
			runtime.GC()
			held = 0
			for _, p := range trees {
				if p.Value() != nil {
					held++
				}
			}
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(trees) < 10 {
		t.Fatalf("%d segments in the first pass, want at least 10", len(trees))
	}
	if held != 0 {
		t.Fatalf("%d of the first pass's %d trees still held during the second", held, len(trees))
	}
}
