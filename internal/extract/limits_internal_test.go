package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantry/tenantry/pipeline"
)

// repeatReader yields head, then body repeated until n bytes in all, then
// tail; it counts the bytes it handed out.
type repeatReader struct {
	head, body, tail string
	n                int64 // bytes of body to produce
	read             int64 // bytes handed out
	stage            int
	pos              int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		var src string
		switch r.stage {
		case 0:
			src = r.head
		case 1:
			if r.n <= 0 {
				r.stage, r.pos = 2, 0
				continue
			}
			src = r.body
		case 2:
			src = r.tail
		default:
			if total == 0 {
				return 0, io.EOF
			}
			return total, nil
		}
		if r.pos >= len(src) {
			if r.stage != 1 {
				r.stage, r.pos = r.stage+1, 0
			} else {
				r.pos = 0
			}
			continue
		}
		k := copy(p, src[r.pos:])
		if r.stage == 1 && int64(k) > r.n {
			k = int(r.n)
		}
		r.pos += k
		if r.stage == 1 {
			r.n -= int64(k)
		}
		p = p[k:]
		total += k
		r.read += int64(k)
	}
	return total, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

const docxBombXMLHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`

// docxOf zips a word/document.xml streamed from r.
func docxOf(t testing.TB, r io.Reader) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("word/document.xml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, r); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var (
	bombOnce sync.Once
	bomb     []byte
)

// bombParagraph is one paragraph of the probe-like bomb: 1 KiB of text.
var bombParagraph = `<w:p><w:r><w:t>` + strings.Repeat("All work and no play makes a dull tenant. ", 1024/42+1)[:1024] + `</w:t></w:r></w:p>`

// docxBomb is like the probe's document: a small DOCX whose document.xml
// expands to 250 MiB (under the default 256 MiB decompression cap), nearly
// all of it text in 1 KiB paragraphs.
func docxBomb(t testing.TB) []byte {
	bombOnce.Do(func() {
		bomb = docxOf(t, &repeatReader{head: docxBombXMLHead, body: bombParagraph, tail: `</w:body></w:document>`, n: 250 << 20})
	})
	return bomb
}

func newTestExtractor(t testing.TB, cfg Config) *Extractor {
	t.Helper()
	cfg.PDFConcurrency = 1
	e, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestDOCXBombStopsAtTextLimit: the probe's document (a small DOCX that
// inflates to 250 MiB of text, under the decompression cap) fails
// document_too_large after inflating about MaxTextBytes of XML, counted on
// the decompressor, instead of reading all 250 MiB.
func TestDOCXBombStopsAtTextLimit(t *testing.T) {
	t.Parallel()
	in := docxBomb(t)
	if len(in) > 2<<20 {
		t.Fatalf("bomb is %d bytes; want a small archive", len(in))
	}
	const slack = 256 << 10 // a paragraph, the decoder's and inflater's buffers
	// XML bytes per byte of text in the bomb: its paragraph markup.
	xmlPerText := func(text int64) int64 { return text * int64(len(bombParagraph)) / 1024 }
	tests := []struct {
		name     string
		cfg      Config
		maxRead  int64
		wantText string
	}{
		{"default limits", Config{}, xmlPerText(defaultMaxText) + slack, "MaxTextBytes"},
		{"text limit 1 MiB", Config{MaxTextBytes: 1 << 20}, xmlPerText(1<<20) + slack, "MaxTextBytes"},
		{"text limit 10 MiB", Config{MaxTextBytes: 10 << 20}, xmlPerText(10<<20) + slack, "MaxTextBytes"},
		{"decompression cap below the text", Config{MaxDecompressedBytes: 2 << 20, MaxTextBytes: 64 << 20}, 2<<20 + slack, "MaxDecompressedBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestExtractor(t, tt.cfg)
			var inflated int64
			e.wrapPart = func(r io.Reader) io.Reader { return countingReader{r: r, n: &inflated} }
			_, err := e.Extract(context.Background(), TypeDOCX, bytes.NewReader(in), int64(len(in)))
			if !errors.Is(err, pipeline.ErrTooLarge) || pipeline.Reason(err) != "document_too_large" || !pipeline.IsPermanent(err) {
				t.Fatalf("err = %v, want document_too_large", err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("err = %v, want it to name %s", err, tt.wantText)
			}
			if inflated > tt.maxRead {
				t.Fatalf("inflated %d bytes before refusing; want at most %d", inflated, tt.maxRead)
			}
		})
	}
}

// TestTextLimitStopsReading: for each format whose source is streamed in,
// extraction refuses a document past its limit after reading a bounded
// amount of it, counted on the input reader (MaxBytes is far above, so it is
// the text or source limit that bites).
func TestTextLimitStopsReading(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	const slack = 192 << 10 // the 64 KiB buffers of the reader and the decoder
	cfg := Config{MaxBytes: 1 << 40, MaxDecompressedBytes: 1 << 40, MaxTextBytes: limit}
	srcCfg := Config{MaxBytes: 1 << 40, MaxDecompressedBytes: limit, MaxTextBytes: 1 << 40}
	line := "All work and no play makes a dull tenant.\n"
	tests := []struct {
		name      string
		cfg       Config
		mediaType string
		in        *repeatReader
		perText   int64 // input bytes per byte of decoded text
	}{
		{"plain text", cfg, "text/plain", &repeatReader{body: line, n: 1 << 40}, 1},
		{"plain text latin-1", cfg, "text/plain; charset=iso-8859-1", &repeatReader{body: "caf\xe9 \x80 ", n: 1 << 40}, 1},
		{"plain text utf-16", cfg, "text/plain; charset=utf-16le", &repeatReader{body: "a\x00b\x00\n\x00", n: 1 << 40}, 2},
		{"markdown", cfg, "text/markdown", &repeatReader{head: "# Title\n\n", body: line, n: 1 << 40}, 1},
		{"html source", srcCfg, "text/html", &repeatReader{head: "<html><body>", body: "<p>" + line + "</p>", n: 1 << 40}, 1},
		{"csv source", srcCfg, "text/csv", &repeatReader{head: "a,b\n", body: "1,2\n", n: 1 << 40}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestExtractor(t, tt.cfg)
			_, err := e.Extract(context.Background(), tt.mediaType, tt.in, -1)
			if !errors.Is(err, pipeline.ErrTooLarge) || pipeline.Reason(err) != "document_too_large" {
				t.Fatalf("err = %v, want document_too_large", err)
			}
			if want := limit*tt.perText + slack; tt.in.read > want {
				t.Fatalf("read %d bytes before refusing; want at most %d", tt.in.read, want)
			}
		})
	}
}

// TestTextLimitInParsedFormats: formats parsed whole (HTML and CSV sources
// under MaxDecompressedBytes, PDF pages) still refuse text past
// MaxTextBytes with the same reason, at the first node, row or page past it.
func TestTextLimitInParsedFormats(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	big := strings.Repeat("All work and no play makes a dull tenant. ", 4000) // ~170 KB
	cfg := Config{MaxTextBytes: limit, Timeout: 30 * time.Second}
	var cells strings.Builder
	cells.WriteString("<table>")
	for range 4000 {
		cells.WriteString("<tr><td>All work and no play</td><td>makes a dull tenant</td></tr>")
	}
	cells.WriteString("</table>")
	headings := strings.Repeat("# H\n\nbody\n\n", 200)
	tests := []struct {
		name      string
		cfg       Config
		mediaType string
		in        string
		reason    string
	}{
		{"html one text node", cfg, "text/html", "<p>" + big + "</p>", "MaxTextBytes"},
		{"html table cells", cfg, "text/html", cells.String(), "MaxTextBytes"},
		{"html pre", cfg, "text/html", "<pre>" + big + "</pre>", "MaxTextBytes"},
		{"csv rows", cfg, "text/csv", "name,note\n" + strings.Repeat("tenant,All work and no play makes a dull tenant.\n", 4000), "MaxTextBytes"},
		{"markdown headings over MaxSections", Config{MaxSections: 50}, "text/markdown", headings, "MaxSections"},
		{"html headings over MaxSections", Config{MaxSections: 50}, "text/html", strings.Repeat("<h1>H</h1><p>body</p>", 200), "MaxSections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestExtractor(t, tt.cfg)
			_, err := e.Extract(context.Background(), tt.mediaType, strings.NewReader(tt.in), int64(len(tt.in)))
			if pipeline.Reason(err) != "document_too_large" || !strings.Contains(errText(err), tt.reason) {
				t.Fatalf("err = %v, want document_too_large naming %s", err, tt.reason)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// BenchmarkDOCXBomb compares the probe-like bomb (250 MiB of text in a small
// DOCX) at the default limits with a normal 1 MiB DOCX, and with the old
// bound (text counted against the 256 MiB decompression cap only).
func BenchmarkDOCXBomb(b *testing.B) {
	normal := docxOf(b, &repeatReader{head: docxBombXMLHead, body: bombParagraph, tail: `</w:body></w:document>`, n: 1 << 20})
	cases := []struct {
		name string
		cfg  Config
		in   []byte
	}{
		{"normal_1MiB", Config{}, normal},
		{"bomb_250MiB", Config{}, docxBomb(b)},
		{"bomb_250MiB_old_bound", Config{MaxTextBytes: defaultMaxDecompressed}, docxBomb(b)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			e := newTestExtractor(b, c.cfg)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = e.Extract(context.Background(), TypeDOCX, bytes.NewReader(c.in), int64(len(c.in)))
			}
		})
	}
}
