package extract_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/pipeline"
)

// onlyReader hides every method of r but Read (an object body that cannot
// seek).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// bigDOCX is a DOCX of n paragraphs under headings, with a table.
func bigDOCX(t testing.TB, n int) []byte {
	var b strings.Builder
	for i := range n {
		if i%50 == 0 {
			b.WriteString(headingPara("Part"))
		}
		b.WriteString(para("Paragraph text long enough to make the body of this part grow, line " + strings.Repeat("x", i%40)))
		if i == n/2 {
			b.WriteString(`<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b</w:t></w:r></w:p></w:tc></w:tr></w:tbl>`)
		}
	}
	return makeDOCX(t, b.String())
}

// TestSeekableFormatsReadInPlace: a DOCX and a PDF stream the same
// sections as Extract returns, read where they lie when the reader can be
// read at any offset (a spool directory that does not exist is never
// touched) and from a temporary file, removed afterwards, when it cannot.
func TestSeekableFormatsReadInPlace(t *testing.T) {
	t.Parallel()
	docs := []struct {
		name, mediaType string
		body            []byte
		minAdds         int
	}{
		{"docx", extract.TypeDOCX, bigDOCX(t, 3000), 100},
		{"pdf", "application/pdf", makePDF("one", "two\nlines", "three"), 3},
	}
	for _, d := range docs {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			want, err := shared(t).Extract(context.Background(), d.mediaType, bytes.NewReader(d.body), int64(len(d.body)))
			if err != nil {
				t.Fatal(err)
			}
			missing := filepath.Join(t.TempDir(), "missing")
			spool := t.TempDir()
			for _, c := range []struct {
				name    string
				r       func() io.Reader
				dir     string
				wantErr bool
			}{
				{"bytes.Reader, no spool", func() io.Reader { return bytes.NewReader(d.body) }, missing, false},
				{"SectionReader, no spool", func() io.Reader { return io.NewSectionReader(bytes.NewReader(d.body), 0, int64(len(d.body))) }, missing, false},
				{"plain reader, spooled", func() io.Reader { return onlyReader{bytes.NewReader(d.body)} }, spool, false},
				{"plain reader, spool refused", func() io.Reader { return onlyReader{bytes.NewReader(d.body)} }, missing, true},
			} {
				e, err := extract.New(extract.Config{SpoolDir: c.dir, PDFCacheDir: pdfCacheDir(), PDFConcurrency: 1}, nil)
				if err != nil {
					t.Fatal(err)
				}
				var got collect
				err = e.ExtractTo(context.Background(), d.mediaType, c.r(), int64(len(d.body)), &got)
				_ = e.Close()
				if c.wantErr {
					if err == nil {
						t.Errorf("%s: no error, want the spool's", c.name)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if diff := cmp.Diff(want, got.out); diff != "" {
					t.Errorf("%s: differs from Extract (-want +got):\n%s", c.name, diff)
				}
				if got.adds < d.minAdds {
					t.Errorf("%s: %d hand-overs, want at least %d", c.name, got.adds, d.minAdds)
				}
			}
			if ents, _ := os.ReadDir(spool); len(ents) != 0 {
				t.Errorf("spool directory not empty: %v", ents)
			}
		})
	}
}

// TestSeekableFormatsMaxBytes: a DOCX or PDF past MaxBytes is refused
// whether it is read in place (its size told by the reader, not declared)
// or spooled.
func TestSeekableFormatsMaxBytes(t *testing.T) {
	t.Parallel()
	for _, d := range []struct {
		mediaType string
		body      []byte
	}{
		{extract.TypeDOCX, bigDOCX(t, 200)},
		{"application/pdf", makePDF(strings.Repeat("page text ", 200))},
	} {
		e, err := extract.New(extract.Config{MaxBytes: int64(len(d.body)) - 1, SpoolDir: t.TempDir(), PDFConcurrency: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		for _, r := range []io.Reader{bytes.NewReader(d.body), onlyReader{bytes.NewReader(d.body)}} {
			err := e.ExtractTo(context.Background(), d.mediaType, r, -1, &collect{})
			if !errors.Is(err, pipeline.ErrTooLarge) {
				t.Errorf("%s %T: got %v, want ErrTooLarge", d.mediaType, r, err)
			}
		}
	}
}
