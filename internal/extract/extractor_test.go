package extract_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/pipeline"
)

func sec(text string) pipeline.Section             { return pipeline.Section{Text: text} }
func head(text string) pipeline.Section            { return pipeline.Section{Text: text, Heading: true} }
func page(n int, text string) pipeline.Section     { return pipeline.Section{Text: text, Page: n} }
func doc(s ...pipeline.Section) pipeline.Extracted { return pipeline.Extracted{Sections: s} }

func TestExtract(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mediaType string
		in        []byte
		want      pipeline.Extracted
	}{
		{"plain utf-8", "text/plain", []byte("Hello, tenant.\r\nSecond line\rThird\x07 line"), doc(sec("Hello, tenant.\nSecond line\nThird line"))},
		{"plain utf-8 bom", "text/plain", []byte("\xef\xbb\xbfcafé"), doc(sec("café"))},
		{"plain utf-16le bom", "text/plain", append([]byte{0xff, 0xfe}, utf16le("Grüße, 世界 🎉")...), doc(sec("Grüße, 世界 🎉"))},
		{"plain utf-16be bom", "text/plain", append([]byte{0xfe, 0xff}, utf16be("Grüße")...), doc(sec("Grüße"))},
		{"plain declared utf-16le", "text/plain; charset=UTF-16LE", utf16le("abc"), doc(sec("abc"))},
		{"plain latin-1 fallback", "text/plain", []byte("caf\xe9 \x80 na\xefve"), doc(sec("café € naïve"))},
		{"plain declared latin-1", "text/plain; charset=iso-8859-1", []byte("\xc3\xa9"), doc(sec("Ã©"))},
		{"plain stray bytes after utf-8 as windows-1252", "text/plain", []byte("caf\xc3\xa9 \xff\xc3 ok"), doc(sec("café ÿÃ ok"))},
		{"plain declared utf-8 but latin-1", "text/plain; charset=utf-8", []byte("caf\xe9 \x81na\xefve"), doc(sec("café naïve"))},
		{"plain declared koi8-r", "text/plain; charset=koi8-r", []byte("\xf0\xd2\xc9\xd7\xc5\xd4"), doc(sec("Привет"))},
		{"html declared utf-8, meta latin-1", "text/html; charset=utf-8", []byte("<html><head><meta charset=\"iso-8859-1\"></head><body><p>Caf\xe9</p></body></html>"), doc(sec("Café"))},
		{"html declared utf-8, meta windows-1250", "text/html; charset=utf-8", []byte("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1250\"><p>\x9alu\x9dou\xe8k\xfd</p>"), doc(sec("šluťoučký"))},
		{"xhtml declared utf-8, xml encoding", "application/xhtml+xml; charset=utf-8", []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?><html><body><p>\xa4 5</p></body></html>"), doc(sec("€ 5"))},
		{"html declared latin-1 kept", "text/html; charset=iso-8859-1", []byte("<meta charset=\"utf-8\"><p>\xc3\xa9</p>"), doc(sec("Ã©"))},
		{"html no declaration, invalid utf-8 sniffed", "text/html", []byte("<p>na\xefve</p>"), doc(sec("naïve"))},
		{"plain truncated utf-16 surrogate", "text/plain", []byte{0xff, 0xfe, 'a', 0, 0x3d, 0xd8}, doc(sec("a\ufffd"))},
		{"sniffed text", "application/octet-stream", []byte("just text"), doc(sec("just text"))},
		{"markdown", "text/markdown", []byte("# Title\n\nSome *emphasis* and a [link](https://example.com/x).\nSoft break.\n\n## Sub\n\n- one\n- two\n\n```go\ncode()\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<div>raw <script>x()</script>html</div>\n"),
			doc(head("Title"), sec("Some emphasis and a link. Soft break."), head("Sub"), sec("- one\n- two\n\ncode()\n\na | b\n1 | 2\n\nraw html"))},
		{"html", "text/html; charset=utf-8", []byte(`<!doctype html><html><head><title>Doc title</title><style>p{}</style><script>alert(1)</script></head>
<body><h1>Head  one</h1><p>First <b>bold</b>
 paragraph.</p><noscript>no</noscript><template><p>t</p></template><div hidden>secret</div><div style="display: none">gone</div>
<ul><li>a</li><li>b</li></ul><table><tr><th>k</th><th>v</th></tr><tr><td>x</td><td>1</td></tr></table>
<pre>  keep
   spaces</pre><p>line<br>break <img alt="a cat" src="c.png"></p></body></html>`),
			doc(head("Doc title"), head("Head one"), sec("First bold paragraph.\n\na\nb\n\nk | v\nx | 1\n\n  keep\n   spaces\n\nline\nbreak a cat"))},
		{"csv", "text/csv", []byte("name,city,note\nAda,London,\n\"Lovelace, A.\",\"New\nYork\",\"said \"\"hi\"\"\"\nBob,Paris,x,extra\n"),
			doc(sec("name: Ada | city: London\nname: Lovelace, A. | city: New York | note: said \"hi\"\nname: Bob | city: Paris | note: x | column 4: extra"))},
		{"csv semicolons", "text/csv", []byte("a;b\n1;2\n"), doc(sec("a: 1 | b: 2"))},
		{"tsv", "text/tab-separated-values", []byte("a\tb\n1\t2\n"), doc(sec("a: 1 | b: 2"))},
		{"csv header only", "text/csv", []byte("a,b\n"), doc(sec("a | b"))},
		{"docx", extract.TypeDOCX, makeDOCX(t, headingPara("Report")+para("First para.")+
			`<w:p><w:r><w:t>Tab</w:t><w:tab/><w:t>bed</w:t><w:br/><w:t>broken</w:t></w:r></w:p>`+
			`<w:p><w:del><w:r><w:delText>deleted</w:delText></w:r></w:del><w:r><w:instrText>PAGE</w:instrText><w:t>kept</w:t></w:r></w:p>`+
			`<w:tbl><w:tr><w:tc>`+para("k")+`</w:tc><w:tc>`+para("v")+`</w:tc></w:tr><w:tr><w:tc>`+para("x")+para("y")+`</w:tc><w:tc>`+para("1")+`</w:tc></w:tr></w:tbl>`),
			doc(head("Report"), sec("First para.\n\nTab\tbed\nbroken\n\nkept\n\nk | v\nx y | 1"))},
		{"pdf", "application/pdf", makePDF("Hello page one\nsecond line", "", "Third (page) text"),
			doc(page(1, "Hello page one\nsecond line"), page(2, ""), page(3, "Third (page) text"))},
		{"sniffed pdf", "", makePDF("sniffed"), doc(page(1, "sniffed"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := shared(t).Extract(context.Background(), tt.mediaType, bytes.NewReader(tt.in), int64(len(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMediaType(t *testing.T) {
	t.Parallel()
	tests := []struct{ declared, filename, want string }{
		{"text/plain", "notes.txt", extract.TypeText},
		{"text/plain; charset=utf-16", "notes.md", "text/markdown; charset=utf-16"},
		{"text/plain", "table.CSV", extract.TypeCSV},
		{"application/octet-stream", "report.pdf", extract.TypePDF},
		{"", "report.docx", extract.TypeDOCX},
		{"binary/octet-stream", "page.htm", extract.TypeHTML},
		{"application/pdf", "misnamed.txt", extract.TypePDF},
		{"TEXT/HTML; charset=ISO-8859-1", "", "text/html; charset=ISO-8859-1"},
		{"text/x-markdown", "", extract.TypeMarkdown},
		{"image/png", "x.png", "image/png"},
		{"application/octet-stream", "noext", ""},
		{"not a type", "a.tsv", extract.TypeTSV},
	}
	for _, tt := range tests {
		if got := extract.MediaType(tt.declared, tt.filename); got != tt.want {
			t.Errorf("MediaType(%q, %q) = %q, want %q", tt.declared, tt.filename, got, tt.want)
		}
	}
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16encode(s) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

func utf16be(s string) []byte {
	var b []byte
	for _, u := range utf16encode(s) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}

func utf16encode(s string) []uint16 {
	var out []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}
