package extract

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"

	"github.com/tenantry/tenantry/pipeline"
)

// joined collects streamed sections, continuations joined to their section.
type joined struct{ out []pipeline.Section }

func (j *joined) Add(s pipeline.Section) error {
	if s.Cont && len(j.out) > 0 {
		j.out[len(j.out)-1].Text += s.Text
		return nil
	}
	j.out = append(j.out, s)
	return nil
}

// htmlEqualityInputs are the HTML pages of the fidelity corpus, the HTML
// fuzz seeds, and markup whose end tags HTML lets a document omit.
func htmlEqualityInputs(t *testing.T) map[string]string {
	t.Helper()
	in := map[string]string{
		"seed headings":     "<h1>T</h1><p>a<br>b</p><table><tr><td>1</td></tr></table>",
		"seed script":       "<script>x</script><style>y</style>t",
		"seed pre":          "<pre> a\n b</pre>",
		"seed divs":         "<div><div><div>",
		"seed formatting":   "<b><i><b><i>x",
		"seed title img":    "<title>t</title><img alt=a>",
		"seed orphan cell":  "<td>orphan</td>",
		"content nav":       `<nav><a href=/>Home</a></nav><main><h1>T</h1><p>x</p><div class=toc><ul><li><a href="#a">a</a><li><a href="#b">b</a></ul></div></main>`,
		"content layout":    `<table><tr><td><ul><li><a href=a>1</a><li><a href=b>2</a><li><a href=c>3</a><li><a href=d>4</a></ul></td><td><h2>H</h2><p>body</p></td></tr></table>`,
		"content skip link": `<a href="#main">Skip to content</a><article><pre><code>a</code><code>b</code></pre></article>`,
		"content two mains": `<div role=main><div role=main>x</div></div><main>y</main>`,
		"omitted end tags": "<!DOCTYPE html><html><head><title>Omitted</title><meta charset=utf-8></head><body>" +
			"<p>one<p>two<ul><li>a<li>b <b>bold</b><li>c</ul><dl><dt>t<dd>d<dt>u<dd>e</dl>" +
			"<table><thead><tr><th>h1<th>h2<tbody><tr><td>1<td>2<tr><td>3<td>4</table><p>after <i>it</i> ends</body></html>",
		"title in body, article": "<body><article><header><h1>A</h1></header><p>x <span>y</span></p><footer>f</footer></article><title>late</title></body>",
		"head only":              "<html><head><title>Only</title></head></html>",
		"title in body, main":    "<body><title></title><main><p>x</p></main><title>second</title><p>after</p></body>",
		"title in body first":    "<body><svg><title>in svg</title></svg><title>t</title>text<article><p>x</p></article>more</body>",
		"text before body":       "hello <b>world</b><p>para</p>",
		"hidden and skipped":     `<div hidden><p>no</p></div><p>yes</p><div style="display: none">no</div><svg><title>s</title></svg><template><p>t</p></template><p>end</p>`,
		"nested lists":           "<ul><li>a<ul><li>b<li>c</ul><li>d</ul><ol><li>x</ol>",
		"entities":               "<p>caf&eacute; &amp; &lt;tag&gt;</p><h2>A &amp; B</h2>",
		"whitespace inline":      "<p><span>a</span> <span>b</span>\n<em>c</em></p>  <span>d</span> e",
		"charset from meta":      "<meta charset=\"iso-8859-1\"><h1>Caf\xe9</h1><p>cr\xe8me \x80 br\xfbl\xe9e</p>",
		"meta does not decode":   "<meta charset=shift_jis><p>\x82\xff\xa0 caf\xe9</p>",
		"utf-16 with a bom":      "\xff\xfe<\x00p\x00>\x00x\x00",
		// Quirks mode (no doctype, or an old one): a table does not close
		// an open p, so text fostered out of the table joins the p's text.
		"quirks table in p":          "<p>0<tABle>00",
		"quirks table in p, ended":   "<p>a<table>b</table>c</p><p>d<table><tr><td>e</table>f",
		"quirks table in a cell's p": "<table><tr><td><p>x<table>y</table>z</td></tr></table>",
		"quirks old doctype":         `<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"><p>a<table>b</table>c`,
		"standards table in p":       "<!DOCTYPE html><p>a<table>b</table>c",
		"comment then doctype":       "<!-- c --> <!DOCTYPE html><p>a<table>b</table>c",
		"doctype after text":         "x<!DOCTYPE html><p>a<table>b</table>c",
		"escaped space then doctype": "&#32;<!DOCTYPE html><p>a<table>b</table>c",
		// Segments are parsed as documents in the page's mode: a form
		// open around a segment (a container, or the content root's
		// ancestor) still makes a nested form tag one the tree builder
		// ignores, and raw-text elements stay text.
		"nested form":          "<form><p>a<form>b</form>c</p>d<div><form>e<div>f</div></div>g",
		"form around the main": "<form><main><p>a<form>b</p><p>c</main></form>",
		"raw text":             "<noembed><b>x</b> y</noembed><noframes><p>z</noframes><p>w",
	}
	dir := filepath.Join("testdata", "fidelity")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".html") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			in[e.Name()] = string(b)
		}
	}
	return in
}

// TestHTMLStreamMatchesWhole: the incremental reader, forced on every
// document and cut as finely as it can be (a segment per child of the
// container), hands over exactly the sections of the whole parse, with
// the content filter and without it (reference), and when it enters every
// element it may (without the filter, whose text statistics it then does
// not apply).
func TestHTMLStreamMatchesWhole(t *testing.T) {
	t.Parallel()
	configs := []struct {
		name      string
		sc        htmlStreamConfig
		reference []bool
	}{
		{"segment per child", htmlStreamConfig{above: -1, segment: 1, descend: 1 << 30}, []bool{false, true}},
		{"segments of 4 KiB", htmlStreamConfig{above: -1, segment: 4 << 10, descend: 1 << 30}, []bool{false, true}},
		{"enter every element", htmlStreamConfig{above: -1, segment: 1, descend: 1}, []bool{true}},
	}
	for name, src := range htmlEqualityInputs(t) {
		for _, c := range configs {
			for _, ref := range c.reference {
				t.Run(name+"/"+c.name+map[bool]string{true: "/reference", false: ""}[ref], func(t *testing.T) {
					t.Parallel()
					whole, stream := htmlBoth(t, src, c.sc, ref)
					if diff := cmp.Diff(whole, stream); diff != "" {
						t.Errorf("streamed sections differ from the whole parse (-whole +streamed):\n%s", diff)
					}
				})
			}
		}
	}
}

// htmlBoth extracts src with the whole parser and the incremental one.
func htmlBoth(t *testing.T, src string, sc htmlStreamConfig, reference bool) (whole, stream []pipeline.Section) {
	t.Helper()
	e := newTestExtractor(t, Config{})
	e.reference = reference
	out, errWhole := e.Extract(context.Background(), "text/html", strings.NewReader(src), int64(len(src)))
	e.htmlStream = &sc
	var j joined
	errStream := e.ExtractTo(context.Background(), "text/html", strings.NewReader(src), int64(len(src)), &j)
	if (errWhole == nil) != (errStream == nil) {
		t.Fatalf("whole: %v, streamed: %v", errWhole, errStream)
	}
	if errWhole != nil {
		return nil, nil
	}
	return out.Sections, j.out
}

// TestHTMLStreamEntersWrapper: a large page inside a wrapper element is
// cut inside the wrapper (entered), hands its first section over while
// most of the page is still unparsed (the sink's error stops the read
// there), and matches the whole parse with the content filter on.
func TestHTMLStreamEntersWrapper(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("<html><head><title>Big</title></head><body><nav><a href=/>Home</a></nav><div class=wrapper><div class=content>")
	for i := range 4000 {
		b.WriteString("<h2>Part</h2><p>Some text of the part, long enough to matter, number ")
		b.WriteString(strings.Repeat("x", i%50))
		b.WriteString("</p>\n")
	}
	b.WriteString("</div></div><footer>foot</footer></body></html>")
	src := b.String()
	sc := htmlStreamConfig{above: 64 << 10, segment: 16 << 10, descend: 64 << 10}
	whole, stream := htmlBoth(t, src, sc, false)
	if diff := cmp.Diff(whole, stream); diff != "" {
		t.Fatalf("differs (-whole +streamed):\n%s", diff)
	}

	e := newTestExtractor(t, Config{})
	e.htmlStream = &sc
	stop := errors.New("sink full")
	var parsed int
	e.htmlParsed = func(n int) { parsed += n }
	err := e.ExtractTo(context.Background(), "text/html", strings.NewReader(src), int64(len(src)), sinkFunc(func(s pipeline.Section) error {
		if s.Heading {
			return nil
		}
		return stop
	}))
	if !errors.Is(err, stop) {
		t.Fatalf("got %v, want the sink's error", err)
	}
	if parsed == 0 || parsed > len(src)/4 {
		t.Fatalf("parsed %d of %d bytes of source before the first body section", parsed, len(src))
	}
}

type sinkFunc func(pipeline.Section) error

func (f sinkFunc) Add(s pipeline.Section) error { return f(s) }

// FuzzHTMLStream: the incremental reader on any input, cut at every child:
// no panic, the same refusals as the whole parse, valid UTF-8, no more text
// than MaxTextBytes, and for input the whole parse accepts, the same words
// in the same order (markup the tree builder repairs across a cut may move
// line and block breaks, not text).
func FuzzHTMLStream(f *testing.F) {
	for _, s := range []string{"<h1>T</h1><p>a<br>b</p><table><tr><td>1</td></tr></table>", "<b><p>x</b>y</p>",
		"<table><div>fostered</div><tr><td>c</table>", "<p>one<p>two<ul><li>a<li>b</ul>", "<main><p>x</main><article>y</article>",
		"<div><table></div>t</table>", "<a href=x><div>block in link</div></a>"} {
		f.Add(s, 1, false)
		f.Add(s, 1<<30, true)
	}
	f.Fuzz(func(t *testing.T, src string, descend int, reference bool) {
		if len(src) > 64<<10 {
			return
		}
		e := newTestExtractor(t, Config{MaxTextBytes: 16 << 10})
		e.reference = reference
		out, errWhole := e.Extract(context.Background(), "text/html", strings.NewReader(src), int64(len(src)))
		e.htmlStream = &htmlStreamConfig{above: -1, segment: 1, descend: max(descend, 1)}
		var j joined
		var total int
		errStream := e.ExtractTo(context.Background(), "text/html", strings.NewReader(src), int64(len(src)), sinkFunc(func(s pipeline.Section) error {
			if !utf8.ValidString(s.Text) {
				t.Fatalf("invalid UTF-8 handed over: %q", s.Text)
			}
			total += len(s.Text)
			return j.Add(s)
		}))
		if total > 16<<10+16<<10 { // text plus separators
			t.Fatalf("%d bytes handed over past MaxTextBytes", total)
		}
		if errStream != nil || errWhole != nil || !reference || descend > len(src) {
			return
		}
		if a, b := words(out.Sections), words(j.out); a != b {
			t.Fatalf("words differ:\nwhole    %q\nstreamed %q", a, b)
		}
	})
}

func words(ss []pipeline.Section) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(strings.Join(strings.Fields(strings.ReplaceAll(s.Text, " | ", " ")), " "))
		b.WriteByte(' ')
	}
	return b.String()
}

// TestStreamedLimitsHold: HTML and Markdown above the incremental readers'
// threshold are refused by the same limits, with the same reasons, as the
// whole parse refuses them, whether the reader can be read at offsets or
// not, and whether the size was declared or not.
func TestStreamedLimitsHold(t *testing.T) {
	t.Parallel()
	para := strings.Repeat("<p>text of a paragraph</p>\n", 60000) // ~1.6 MiB
	mdPara := strings.Repeat("text of a paragraph\n\n", 80000)    // ~1.6 MiB
	headings := strings.Repeat("<h2>h</h2><p>x</p>\n", 80000)     // many sections
	mdHeadings := strings.Repeat("## h\n\nx\n\n", 200000)         // many sections
	deep := strings.Repeat("<div>", 300) + "x" + para             // deeper than MaxNesting
	deeper := strings.Repeat("<span>", 600) + "x" + para          // more open elements than the parser allows
	mdDeep := strings.Repeat("> ", 300) + "q\n\n" + mdPara        // deeper than MaxNesting
	tests := []struct {
		name, mediaType, src string
		cfg                  Config
		unknownSize          bool
	}{
		{"html text limit", "text/html", para, Config{MaxTextBytes: 512 << 10}, false},
		{"html sections", "text/html", headings, Config{MaxSections: 1000}, false},
		{"html nesting", "text/html", deep, Config{}, false},
		{"html open elements", "text/html", deeper, Config{MaxNesting: 1000}, false},
		{"html source limit", "text/html", para, Config{MaxDecompressedBytes: 1 << 20}, false},
		{"markdown text limit", "text/markdown", mdPara, Config{MaxTextBytes: 1 << 20}, false},
		{"markdown sections", "text/markdown", mdHeadings, Config{MaxSections: 1000}, false},
		{"markdown nesting", "text/markdown", mdDeep, Config{}, false},
		{"html source limit, size unknown", "text/html", para, Config{MaxDecompressedBytes: 1 << 20}, true},
		{"html source limit under MaxBytes", "text/html", para, Config{MaxBytes: 3 << 20 / 2, MaxDecompressedBytes: 1 << 20}, true},
		{"html MaxBytes, size unknown", "text/html", para, Config{MaxBytes: 1 << 20}, true},
		{"html MaxBytes under the source limit", "text/html", para, Config{MaxBytes: 1 << 20, MaxDecompressedBytes: 3 << 20 / 2}, true},
		{"markdown MaxBytes, size unknown", "text/markdown", mdPara, Config{MaxBytes: 1 << 20}, true},
	}
	readers := map[string]func(string) io.Reader{
		"strings.Reader": func(s string) io.Reader { return strings.NewReader(s) },
		"plain reader":   func(s string) io.Reader { return plainReader{strings.NewReader(s)} },
	}
	for _, tt := range tests {
		for rname, reader := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				t.Parallel()
				size := int64(len(tt.src))
				if tt.unknownSize {
					size = -1
				}
				e := newTestExtractor(t, tt.cfg)
				_, want := e.Extract(context.Background(), tt.mediaType, reader(tt.src), size)
				if want == nil {
					t.Fatal("the whole parse accepted it")
				}
				got := e.ExtractTo(context.Background(), tt.mediaType, reader(tt.src), size, &joined{})
				if got == nil || got.Error() != want.Error() {
					t.Fatalf("streamed: %v, whole: %v", got, want)
				}
			})
		}
	}
}

var tagNameInputs = []string{
	"<p>a</p>", "<DIV Class=x>", "</DIV >", "<br/>", "<a/b>", "<img\tsrc=x>", "<my-Widget\ndata-x>y</my-widget\r>",
	"<p\x00q>", "</p\x00Q>", "<svg><foreignObject></foreignObject></svg>", "<script>if (a<b) {}</script>",
	"<title>a</TITLE>", "<textarea><b></textarea>", "< p>", "</ p>", "<!-- <p> -->", "<p", "</>", "<\xc3\xa9>",
	"<P\xc3\x89>", "<p\f>",
}

// TestTagName: the tag name read from a token's raw bytes is the name the
// tokenizer's TagName returns, for every start and end tag of a source.
func TestTagName(t *testing.T) {
	t.Parallel()
	for _, in := range tagNameInputs {
		checkTagNames(t, in)
	}
}

func FuzzTagName(f *testing.F) {
	for _, in := range tagNameInputs {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) { checkTagNames(t, in) })
}

func checkTagNames(t *testing.T, in string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(in))
	var buf []byte
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken && tt != html.EndTagToken {
			continue
		}
		buf = tagName(buf[:0], z.Raw())
		want, _ := z.TagName()
		if string(buf) != string(want) {
			t.Fatalf("%q: tag %q named %q, want %q", in, z.Raw(), buf, want)
		}
	}
}

// TestHTMLScanMeasuresAsTheTree: the streaming reader's first pass counts
// a page's visible text (characters, not bytes, white space left out, an
// image's alt text in) as the content filter counts it on the whole tree.
func TestHTMLScanMeasuresAsTheTree(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"<p>plain words</p>",
		"<p>caf\xc3\xa9 \xe2\x82\xac\xe2\x82\xac\t\n na\xc3\xafve</p><p>\xe4\xb8\xad\xe6\x96\x87</p>",
		"<p>one <img alt=\"caf\xc3\xa9 logo\"> two</p><script>not counted</script>",
		"<div hidden>gone</div><p>kept \xc3\xbc</p>",
	} {
		scan := &htmlScan{src: strings.NewReader(in), measure: true}
		if err := scan.run(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		doc, err := html.Parse(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if want := newContentFilter(doc).total; scan.docText != want {
			t.Errorf("%q: scan counted %d, the tree %d", in, scan.docText, want)
		}
	}
}
