package extract_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/pipeline"
)

// small returns an Extractor with tight limits for hostile inputs.
func small(t testing.TB, cfg extract.Config) *extract.Extractor {
	t.Helper()
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 4 << 20
	}
	if cfg.MaxDecompressedBytes == 0 {
		cfg.MaxDecompressedBytes = 8 << 20
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second
	}
	cfg.PDFCacheDir = pdfCacheDir()
	e, err := extract.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestHostile feeds documents built to hurt the worker. Each must fail
// permanently with the right class, quickly, without a panic.
func TestHostile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       extract.Config
		mediaType string
		in        func(t testing.TB) []byte
		size      int64 // declared size; 0: the real one
		class     error
	}{
		{"empty text", extract.Config{}, "text/plain", lit(""), 0, pipeline.ErrEmpty},
		{"empty pdf", extract.Config{}, "application/pdf", lit(""), 0, pipeline.ErrEmpty},
		{"empty docx", extract.Config{}, extract.TypeDOCX, lit(""), 0, pipeline.ErrEmpty},
		{"whitespace only", extract.Config{}, "text/plain", lit(" \n\t\r\n "), 0, pipeline.ErrEmpty},
		{"html with only script", extract.Config{}, "text/html", lit("<script>var secret = 1</script><style>b{}</style>"), 0, pipeline.ErrEmpty},
		{"pdf without text", extract.Config{}, "application/pdf", func(testing.TB) []byte { return makePDF("", "") }, 0, pipeline.ErrEmpty},
		{"unknown type", extract.Config{}, "image/png", lit("\x89PNG\r\n\x1a\n"), 0, pipeline.ErrUnsupported},
		{"generic binary", extract.Config{}, "application/octet-stream", lit("\x00\x01\x02binary"), 0, pipeline.ErrUnsupported},
		{"nul bytes as text", extract.Config{}, "text/plain", lit("text\x00with\x00nuls"), 0, pipeline.ErrMalformed},
		{"declared size over limit", extract.Config{MaxBytes: 100}, "text/plain", lit("short"), 101, pipeline.ErrTooLarge},
		{"real size over limit", extract.Config{MaxBytes: 100}, "text/plain", lit(strings.Repeat("a", 101)), -1, pipeline.ErrTooLarge},
		{"huge line over limit", extract.Config{MaxBytes: 1 << 20}, "text/csv", lit(strings.Repeat("x", 2<<20)), -1, pipeline.ErrTooLarge},
		{"latin-1 expansion over output limit", extract.Config{MaxDecompressedBytes: 1000}, "text/plain", lit(strings.Repeat("\xe9", 600)), 0, pipeline.ErrTooLarge},
		{"zip bomb", extract.Config{MaxDecompressedBytes: 1 << 20}, extract.TypeDOCX, func(t testing.TB) []byte {
			return makeDOCX(t, para(strings.Repeat("A", 4<<20)))
		}, 0, pipeline.ErrTooLarge},
		{"zip bomb with a lying size", extract.Config{MaxDecompressedBytes: 1 << 20}, extract.TypeDOCX, lyingBomb, 0, pipeline.ErrMalformed},
		{"zip with too many entries", extract.Config{MaxEntries: 100}, extract.TypeDOCX, func(t testing.TB) []byte {
			files := map[string]string{"word/document.xml": docxHead + para("x") + docxTail}
			for i := range 200 {
				files[fmt.Sprintf("junk/%d", i)] = ""
			}
			return zipOf(t, files)
		}, 0, pipeline.ErrTooLarge},
		{"docx without document.xml", extract.Config{}, extract.TypeDOCX, func(t testing.TB) []byte {
			return zipOf(t, map[string]string{"[Content_Types].xml": "<Types/>"})
		}, 0, pipeline.ErrMalformed},
		{"docx not a zip", extract.Config{}, extract.TypeDOCX, lit("PK\x03\x04 but not really"), 0, pipeline.ErrMalformed},
		{"docx invalid xml", extract.Config{}, extract.TypeDOCX, func(t testing.TB) []byte {
			return zipOf(t, map[string]string{"word/document.xml": "<w:document><w:body><w:p>&bogus;</w:p>"})
		}, 0, pipeline.ErrMalformed},
		{"docx deeply nested", extract.Config{}, extract.TypeDOCX, func(t testing.TB) []byte {
			return zipOf(t, map[string]string{"word/document.xml": strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000)})
		}, 0, pipeline.ErrMalformed},
		{"html nested past the parser", extract.Config{}, "text/html", lit(strings.Repeat("<div>", 100000)), 0, pipeline.ErrMalformed},
		{"html nested past MaxNesting", extract.Config{MaxNesting: 64}, "text/html", lit(strings.Repeat("<span>", 200) + "deep"), 0, pipeline.ErrMalformed},
		{"html nested formatting", extract.Config{}, "text/html", lit(strings.Repeat("<b><i>", 50000)), 0, pipeline.ErrMalformed},
		{"markdown nested quotes", extract.Config{}, "text/markdown", lit(strings.Repeat(">", 100000) + " deep"), 0, pipeline.ErrMalformed},
		{"markdown nested lists", extract.Config{MaxNesting: 32}, "text/markdown", lit(strings.Repeat("- ", 1000) + "deep"), 0, pipeline.ErrMalformed},
		{"truncated pdf", extract.Config{}, "application/pdf", func(testing.TB) []byte {
			p := makePDF("some text")
			return p[:len(p)/2]
		}, 0, pipeline.ErrMalformed},
		{"pdf header then garbage", extract.Config{}, "application/pdf", lit("%PDF-1.7\n" + strings.Repeat("garbage ", 1000)), 0, pipeline.ErrMalformed},
		{"not a pdf", extract.Config{}, "application/pdf", lit("<html>not a pdf</html>"), 0, pipeline.ErrMalformed},
		{"pdf with too many pages", extract.Config{MaxPages: 3}, "application/pdf", func(testing.TB) []byte { return makePDF("1", "2", "3", "4") }, 0, pipeline.ErrTooLarge},
		{"text over time limit", extract.Config{Timeout: time.Nanosecond}, "text/plain", lit("fine text"), 0, pipeline.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := shared(t)
			if tt.cfg != (extract.Config{}) {
				e = small(t, tt.cfg)
			}
			in := tt.in(t)
			size := tt.size
			if size == 0 {
				size = int64(len(in))
			}
			_, err := e.Extract(context.Background(), tt.mediaType, bytes.NewReader(in), size)
			if !errors.Is(err, tt.class) {
				t.Fatalf("err = %v, want %v", err, tt.class)
			}
			if !pipeline.IsPermanent(err) {
				t.Fatalf("err %v is not permanent", err)
			}
			var xe *extract.Error
			if !errors.As(err, &xe) || xe.Reason == "" || xe.Reason == "parser failed" {
				t.Fatalf("err %v: want an *extract.Error with a reason and no panic", err)
			}
		})
	}
}

func lit(s string) func(testing.TB) []byte {
	return func(testing.TB) []byte { return []byte(s) }
}

// lyingBomb is a DOCX whose document.xml declares 100 bytes but inflates
// to 4 MiB.
func lyingBomb(t testing.TB) []byte {
	t.Helper()
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestCompression)
	body := []byte(docxHead + para(strings.Repeat("B", 4<<20)) + docxTail)
	_, _ = fw.Write(body)
	_ = fw.Close()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: "word/document.xml", Method: zip.Deflate,
		CRC32: crc32.ChecksumIEEE(body), CompressedSize64: uint64(raw.Len()), UncompressedSize64: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(raw.Bytes())
	_ = zw.Close()
	return b.Bytes()
}

// TestCorruptedPDFs flips random bytes of a valid PDF: every result is
// either text or a permanent error, never a panic or a hang.
func TestCorruptedPDFs(t *testing.T) {
	t.Parallel()
	e := shared(t)
	base := makePDF("The quick brown fox", "jumps over the lazy dog", "page three")
	rng := rand.New(rand.NewPCG(1, 2))
	n := 60
	if testing.Short() {
		n = 10
	}
	for i := range n {
		in := bytes.Clone(base)
		for range 1 + rng.IntN(20) {
			in[rng.IntN(len(in))] = byte(rng.IntN(256))
		}
		if i%3 == 0 {
			in = in[:rng.IntN(len(in))]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := e.Extract(ctx, "application/pdf", bytes.NewReader(in), int64(len(in)))
		cancel()
		if err != nil && !pipeline.IsPermanent(err) {
			t.Fatalf("case %d: %v is not permanent", i, err)
		}
		var xe *extract.Error
		if errors.As(err, &xe) && xe.Reason == "parser failed" {
			t.Fatalf("case %d: parser panicked", i)
		}
		_ = out
	}
}

// TestPDFDeadline stops PDFium mid-document: the extraction fails with
// ErrTooLarge at the time limit, the instance is thrown away, and the next
// PDF works.
func TestPDFDeadline(t *testing.T) {
	t.Parallel()
	e := small(t, extract.Config{Timeout: 300 * time.Millisecond, MaxBytes: 64 << 20, MaxPages: 100000})
	if err := e.PreparePDF(context.Background()); err != nil {
		t.Fatal(err)
	}
	pages := make([]string, 20000)
	for i := range pages {
		pages[i] = fmt.Sprintf("page %d with a few words of text", i)
	}
	big := makePDF(pages...)
	begin := time.Now()
	_, err := e.Extract(context.Background(), "application/pdf", bytes.NewReader(big), int64(len(big)))
	t.Logf("stopped after %v", time.Since(begin))
	if !errors.Is(err, pipeline.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge (time limit)", err)
	}
	small := makePDF("after the deadline")
	begin = time.Now()
	out, err := e.Extract(context.Background(), "application/pdf", bytes.NewReader(small), int64(len(small)))
	if err != nil {
		t.Fatalf("after %v: %v", time.Since(begin), err)
	}
	if got := out.Sections[0].Text; got != "after the deadline" {
		t.Fatalf("text = %q", got)
	}
}

// TestCallerCancel: the caller's own cancellation is not a document fault.
func TestCallerCancel(t *testing.T) {
	t.Parallel()
	e := shared(t)
	for _, tc := range []struct {
		mediaType string
		in        []byte
	}{
		{"text/plain", []byte("text")},
		{"application/pdf", makePDF("text")},
		{"text/html", []byte("<p>text</p>")},
		{"text/markdown", []byte("# text")},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := e.Extract(ctx, tc.mediaType, bytes.NewReader(tc.in), int64(len(tc.in)))
		if !errors.Is(err, context.Canceled) || pipeline.IsPermanent(err) {
			t.Fatalf("%s: err = %v, want context.Canceled, not permanent", tc.mediaType, err)
		}
	}
}

// TestHugeLine: a 3 MiB line within the limits extracts.
func TestHugeLine(t *testing.T) {
	t.Parallel()
	e := shared(t)
	line := strings.Repeat("word ", 600000)
	for _, mt := range []string{"text/plain", "text/csv", "text/markdown", "text/html"} {
		out, err := e.Extract(context.Background(), mt, strings.NewReader(line), int64(len(line)))
		if err != nil {
			t.Fatalf("%s: %v", mt, err)
		}
		if n := len(out.Sections); n == 0 {
			t.Fatalf("%s: no sections", mt)
		}
	}
}

// TestReaderError: a failing reader is not a document fault.
func TestReaderError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	_, err := shared(t).Extract(context.Background(), "text/plain", io.MultiReader(strings.NewReader("abc"), errReader{boom}), -1)
	if !errors.Is(err, boom) || pipeline.IsPermanent(err) {
		t.Fatalf("err = %v, want the reader's error, not permanent", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestConfigRejects(t *testing.T) {
	t.Parallel()
	for _, cfg := range []extract.Config{
		{MaxBytes: -1}, {MaxPages: -1}, {MaxDecompressedBytes: -1}, {MaxNesting: -1},
		{MaxEntries: -1}, {Timeout: -time.Second}, {PDFConcurrency: -1}, {PDFMemoryBytes: 1024},
	} {
		if _, err := extract.New(cfg, nil); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
