package extract_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/pipeline"
)

// BenchmarkExtract reports MB/s of input per format (PDF also pages/s).
func BenchmarkExtract(b *testing.B) {
	sentence := "Tenants upload documents; the worker extracts, chunks and embeds them. "
	prose := strings.Repeat(sentence, (1<<20)/len(sentence))
	var md, html, csv, docx strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&md, "## Section %d\n\n%s\n\n- item *one*\n- item [two](https://x)\n\n", i, sentence+sentence)
		fmt.Fprintf(&html, "<h2>Section %d</h2><p>%s<b>%s</b></p><ul><li>a</li><li>b</li></ul><script>var x=%d</script>\n", i, sentence, sentence, i)
		fmt.Fprintf(&csv, "%d,Ada Lovelace,London,%q\n", i, sentence)
		docx.WriteString(para(sentence + sentence))
	}
	pages := make([]string, 100)
	for i := range pages {
		pages[i] = strings.Repeat(sentence, 30)
	}
	cases := []struct {
		name, mediaType string
		in              []byte
		pages           int
	}{
		{"text", "text/plain", []byte(prose), 0},
		{"markdown", "text/markdown", []byte(md.String()), 0},
		{"html", "text/html", []byte(html.String()), 0},
		{"csv", "text/csv", []byte("id,name,city,note\n" + csv.String()), 0},
		{"docx", extract.TypeDOCX, makeDOCX(b, docx.String()), 0},
		{"pdf", "application/pdf", makePDF(pages...), len(pages)},
	}
	e := shared(b)
	if err := e.PreparePDF(context.Background()); err != nil {
		b.Fatal(err)
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.in)))
			n := 0
			for b.Loop() {
				if _, err := e.Extract(context.Background(), c.mediaType, bytes.NewReader(c.in), int64(len(c.in))); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if c.pages > 0 {
				b.ReportMetric(float64(n*c.pages)/b.Elapsed().Seconds(), "pages/s")
			}
		})
	}
}

// discard is a SectionSink that keeps nothing.
type discard struct{}

func (discard) Add(pipeline.Section) error { return nil }

// BenchmarkExtractTo compares documents above the incremental readers'
// 1 MiB threshold read whole (Extract) and streamed to a sink that keeps
// nothing (ExtractTo): MB/s of input, B/op (what was allocated, not what
// was held at once) and the process's CPU time per document (cpu-ms/op).
func BenchmarkExtractTo(b *testing.B) {
	sentence := "Tenants upload documents; the worker extracts, chunks and embeds them. "
	var md, html, docx strings.Builder
	html.WriteString("<html><head><title>T</title></head><body><nav><a href=/>Home</a></nav><main>")
	for i := range 12000 {
		fmt.Fprintf(&md, "## Section %d\n\n%s\n\n- item *one*\n- item [two](https://x)\n\n", i, sentence+sentence)
		fmt.Fprintf(&html, "<h2>Section %d</h2><p>%s<b>%s</b></p><ul><li>a</li><li>b</li></ul><script>var x=%d</script>\n", i, sentence, sentence, i)
		docx.WriteString(para(sentence + sentence))
	}
	html.WriteString("</main><footer>f</footer></body></html>")
	cases := []struct {
		name, mediaType string
		in              []byte
	}{
		{"markdown", "text/markdown", []byte(md.String())},
		{"html", "text/html", []byte(html.String())},
		{"docx", extract.TypeDOCX, makeDOCX(b, docx.String())},
	}
	e := shared(b)
	for _, c := range cases {
		whole := func() error {
			_, err := e.Extract(context.Background(), c.mediaType, bytes.NewReader(c.in), int64(len(c.in)))
			return err
		}
		stream := func() error {
			return e.ExtractTo(context.Background(), c.mediaType, bytes.NewReader(c.in), int64(len(c.in)), discard{})
		}
		for _, m := range []struct {
			name string
			run  func() error
		}{{"whole", whole}, {"stream", stream}} {
			b.Run(c.name+"/"+m.name, func(b *testing.B) {
				b.SetBytes(int64(len(c.in)))
				cpu := cpuTime()
				for b.Loop() {
					if err := m.run(); err != nil {
						b.Fatal(err)
					}
				}
				// CPU time (the process's, GC included) is less moved by
				// other load on a shared machine than wall time.
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
			})
		}
	}
}
