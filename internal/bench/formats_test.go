package bench_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"html"
	"math/rand/v2"
	"strings"

	"github.com/tenantry/tenantry/internal/chaos/harness"
)

// The memory benchmark's structured documents: about size bytes each of
// harness.Text prose, a heading every 40 paragraphs.

// paragraphs returns about size bytes of prose split into paragraphs.
func paragraphs(r *rand.Rand, size int) []string {
	var out []string
	for _, p := range strings.Split(string(harness.Text(r, size)), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// htmlDoc is a page with site furniture (navigation, footer) around a
// <main> of sections, each a heading and paragraphs with a link.
func htmlDoc(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Benchmark page</title></head>\n<body>\n")
	b.WriteString("<nav><ul><li><a href=\"/\">Home</a></li><li><a href=\"/docs\">Docs</a></li><li><a href=\"/blog\">Blog</a></li><li><a href=\"/about\">About</a></li></ul></nav>\n<main>\n")
	for i, p := range paragraphs(r, size) {
		if i%40 == 0 {
			fmt.Fprintf(&b, "<h2 id=\"s%d\">Section %d</h2>\n", i/40, i/40)
		}
		words := strings.SplitN(html.EscapeString(p), " ", 3)
		if len(words) == 3 {
			fmt.Fprintf(&b, "<p>%s <a href=\"#s%d\">%s</a> %s</p>\n", words[0], i/40, words[1], words[2])
		} else {
			fmt.Fprintf(&b, "<p>%s</p>\n", html.EscapeString(p))
		}
	}
	b.WriteString("</main>\n<footer><p>Copyright the benchmark.</p></footer>\n</body></html>\n")
	return b.Bytes()
}

// markdownDoc is ATX headings, paragraphs, and a short list now and then.
func markdownDoc(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	b.WriteString("# Benchmark document\n\n")
	for i, p := range paragraphs(r, size) {
		if i%40 == 0 {
			fmt.Fprintf(&b, "## Section %d\n\n", i/40)
		}
		if i%10 == 5 {
			for _, s := range strings.SplitN(p, ". ", 3) {
				fmt.Fprintf(&b, "- %s\n", strings.TrimSuffix(s, "."))
			}
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(&b, "%s\n\n", p)
	}
	return b.Bytes()
}

// docxDoc is a DOCX whose word/document.xml holds about size bytes of
// paragraphs (two runs each) under Heading2 paragraphs.
func docxDoc(r *rand.Rand, size int) []byte {
	var x bytes.Buffer
	x.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	for i, p := range paragraphs(r, size) {
		if i%40 == 0 {
			fmt.Fprintf(&x, `<w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Section %d</w:t></w:r></w:p>`, i/40)
		}
		first, rest, _ := strings.Cut(html.EscapeString(p), " ")
		fmt.Fprintf(&x, `<w:p><w:r><w:rPr><w:b/></w:rPr><w:t>%s</w:t></w:r><w:r><w:t xml:space="preserve"> %s</w:t></w:r></w:p>`, first, rest)
	}
	x.WriteString(`</w:body></w:document>`)
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`},
		{"word/document.xml", x.String()},
	} {
		w, err := zw.Create(f.name)
		if err == nil {
			_, err = w.Write([]byte(f.body))
		}
		if err != nil {
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}
