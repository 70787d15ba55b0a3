package extract_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/pipeline"
)

var (
	fuzzOnce sync.Once
	fuzzExt  *extract.Extractor
)

// fuzzExtractor has tight limits so each input is cheap. It is closed by
// TestMain through sharedExt's sibling below.
func fuzzExtractor(t testing.TB) *extract.Extractor {
	fuzzOnce.Do(func() {
		e, err := extract.New(extract.Config{
			MaxBytes: 1 << 20, MaxDecompressedBytes: 4 << 20, MaxPages: 50,
			Timeout: 10 * time.Second, PDFConcurrency: 1, PDFCacheDir: pdfCacheDir(),
		}, nil)
		if err != nil {
			panic(err)
		}
		fuzzExt = e
		closers = append(closers, e)
	})
	return fuzzExt
}

// fuzzExtract checks what every parser promises on any input: no panic (a
// recovered panic is reported as "parser failed"), valid UTF-8 out, and
// every error permanent.
func fuzzExtract(t *testing.T, mediaType string, data []byte) {
	out, err := fuzzExtractor(t).Extract(context.Background(), mediaType, bytes.NewReader(data), int64(len(data)))
	// ExtractTo (what the worker runs) refuses the same way and, joined,
	// hands over the same sections.
	var streamed collect
	serr := fuzzExtractor(t).ExtractTo(context.Background(), mediaType, bytes.NewReader(data), int64(len(data)), &streamed)
	switch {
	case (err == nil) != (serr == nil):
		t.Fatalf("Extract: %v, ExtractTo: %v", err, serr)
	case err != nil && err.Error() != serr.Error():
		t.Fatalf("Extract: %v, ExtractTo: %v", err, serr)
	case err == nil && !reflect.DeepEqual(out, streamed.out):
		t.Fatalf("ExtractTo handed over other sections than Extract returned:\n%+v\n%+v", out.Sections, streamed.out.Sections)
	}
	if err != nil {
		var xe *extract.Error
		if errors.As(err, &xe) && xe.Reason == "parser failed" {
			t.Fatalf("parser panicked on %q", data)
		}
		if !pipeline.IsPermanent(err) {
			t.Fatalf("error %v is not permanent", err)
		}
		return
	}
	for i, s := range out.Sections {
		if !utf8.ValidString(s.Text) {
			t.Fatalf("section %d is not valid UTF-8: %q", i, s.Text)
		}
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"Hello, tenant.\r\n", "\xef\xbb\xbfcafé", "\xff\xfea\x00b\x00", "\xfe\xff\x00a", "caf\xe9", "caf\xc3\xa9 \xff", "a\x00b", ""} {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "utf-16le")
	}
	f.Fuzz(func(t *testing.T, data []byte, charset string) {
		mt := "text/plain"
		if charset != "" {
			mt += "; charset=" + charset
		}
		fuzzExtract(t, mt, data)
	})
}

func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{"# T\n\ntext *em* [l](u)\n\n- a\n  - b\n\n| a | b |\n|-|-|\n| 1 | 2 |\n", "> > > q", "```\ncode\n```", "<div>x<script>y</script></div>", "[[[[[[a]]]]]]", "***a***"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "text/markdown", data) })
}

func FuzzHTML(f *testing.F) {
	for _, s := range []string{"<h1>T</h1><p>a<br>b</p><table><tr><td>1</td></tr></table>", "<script>x</script><style>y</style>t", "<pre> a\n b</pre>", "<div><div><div>", "<b><i><b><i>x", "<title>t</title><img alt=a>", "<td>orphan</td>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "text/html", data) })
}

// FuzzHTMLContent: pages with furniture (landmarks, link farms, layout
// tables, declared charsets) through the main-content filter and the
// charset fallback.
func FuzzHTMLContent(f *testing.F) {
	for _, s := range []string{
		`<nav><a href=/>Home</a></nav><main><h1>T</h1><p>x</p><div class=toc><ul><li><a href="#a">a</a><li><a href="#b">b</a></ul></div></main>`,
		`<table><tr><td><ul><li><a href=a>1</a><li><a href=b>2</a><li><a href=c>3</a><li><a href=d>4</a></ul></td><td><h2>H</h2><p>body</p></td></tr></table>`,
		`<meta charset=iso-8859-1><a href="#main">Skip to content</a><article><pre><code>a</code><code>b</code></pre></article>`,
		"<?xml version='1.0' encoding='koi8-r'?><p>\xf0\xd2</p>",
		`<div role=main><div role=main>x</div></div><main>y</main>`,
	} {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "utf-8")
	}
	f.Fuzz(func(t *testing.T, data []byte, charset string) {
		mt := "text/html"
		if charset != "" {
			mt += "; charset=" + charset
		}
		fuzzExtract(t, mt, data)
	})
}

// FuzzMarkup: reStructuredText, AsciiDoc and Org headings.
func FuzzMarkup(f *testing.F) {
	for _, s := range []string{"Title\n=====\n\ntext\n", "=====\nT\n=====\n", ".. image:: x\n   :target: y\n", "= A\n== B\n", "* H\n** I\n#+TITLE: t\n", "---\n---\n---"} {
		for _, mt := range []string{extract.TypeRST, extract.TypeAsciiDoc, extract.TypeOrg} {
			f.Add([]byte(s), mt)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mt string) {
		switch mt {
		case extract.TypeRST, extract.TypeAsciiDoc, extract.TypeOrg:
		default:
			mt = extract.TypeRST
		}
		fuzzExtract(t, mt, data)
	})
}

func FuzzCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a;b\n\"x;y\";2\n", "a\tb\n1\t2", "\"unterminated,1\n", "a\n\"\"\"\n", ",,,\n,,,"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "text/csv", data) })
}

func FuzzDOCX(f *testing.F) {
	f.Add(makeDOCX(f, headingPara("H")+para("text")))
	f.Add(makeDOCX(f, `<w:tbl><w:tr><w:tc>`+para("k")+`</w:tc></w:tr></w:tbl>`))
	f.Add(zipOf(f, map[string]string{"word/document.xml": "<a><b>"}))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, extract.TypeDOCX, data) })
}

func FuzzPDF(f *testing.F) {
	f.Add(makePDF("Hello", "page two"))
	p := makePDF("truncated")
	f.Add(p[:len(p)/2])
	f.Add([]byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "application/pdf", data) })
}
