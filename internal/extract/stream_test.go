package extract_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/pipeline"
)

// collect is a SectionSink that joins continuations back into their section.
type collect struct {
	out   pipeline.Extracted
	adds  int
	fail  error // returned from the Add numbered failAt
	fails int
}

func (c *collect) Add(s pipeline.Section) error {
	c.adds++
	if c.fail != nil && c.adds == c.fails {
		return c.fail
	}
	if !utf8.ValidString(s.Text) {
		return errors.New("invalid UTF-8 handed over")
	}
	if s.Cont && len(c.out.Sections) > 0 {
		c.out.Sections[len(c.out.Sections)-1].Text += s.Text
		return nil
	}
	if s.Cont {
		return errors.New("first section is a continuation")
	}
	c.out.Sections = append(c.out.Sections, s)
	return nil
}

// TestExtractToMatchesExtract: the streamed sections, continuations joined,
// are exactly what Extract returns, for every format.
func TestExtractToMatchesExtract(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("Grüße, tenant 世界 — line of text.\r\n", 20000) // ~800 KB, many blocks
	tests := []struct {
		name, mediaType string
		in              []byte
		minAdds         int
	}{
		{"plain small", "text/plain", []byte("Hello, tenant.\r\nSecond"), 1},
		{"plain large", "text/plain", []byte(big), 5},
		{"plain utf-16le", "text/plain", append([]byte{0xff, 0xfe}, utf16le(big[:200000])...), 2},
		{"plain latin-1", "text/plain", bytes.Repeat([]byte("caf\xe9 \x80 na\xefve\n"), 20000), 3},
		{"markdown", "text/markdown", []byte("# T\n\nbody\n\n## U\n\nmore\n"), 4},
		{"csv", "text/csv", []byte("a,b\n1,2\n3,4\n"), 1},
		{"csv large", "text/csv", []byte("name;city;note\n" + strings.Repeat("Ada;\"London, UK\";said \"\"hi\"\"\n\"B\nob\";Paris;\n", 8000)), 3},
		{"csv header only", "text/csv", []byte("a,b\n"), 1},
		{"tsv", "text/tab-separated-values", []byte("a\tb\n1\t2\n"), 1},
		{"csv utf-16", "text/csv", append([]byte{0xff, 0xfe}, utf16le("k,v\nx,1\n")...), 1},
		{"html", "text/html", []byte("<h1>H</h1><p>p</p>"), 2},
		{"docx", extract.TypeDOCX, makeDOCX(t, headingPara("Report")+para("First para.")), 2},
		{"pdf", "application/pdf", makePDF("one", "", "three"), 3},
		{"rst", "text/x-rst", []byte("Title\n=====\n\nbody\n\nPart\n----\n\nmore\n"), 2},
		{"unknown text type", "text/x-log", []byte("2026-12-07 started\n2026-12-07 stopped\n"), 1},
		{"html mis-declared latin-1", "text/html; charset=utf-8", []byte("<meta charset=\"iso-8859-1\"><h1>Gr\xfc\xdfe</h1><p>caf\xe9</p>"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := shared(t)
			want, err := e.Extract(context.Background(), tt.mediaType, bytes.NewReader(tt.in), int64(len(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			var c collect
			if err := e.ExtractTo(context.Background(), tt.mediaType, bytes.NewReader(tt.in), int64(len(tt.in)), &c); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, c.out); diff != "" {
				t.Fatalf("(-Extract +ExtractTo):\n%s", diff)
			}
			if c.adds < tt.minAdds {
				t.Fatalf("%d sections handed over, want at least %d (streamed)", c.adds, tt.minAdds)
			}
		})
	}
}

// TestExtractToRejects: every refusal of Extract holds while streaming, and
// the sink's own error comes back unchanged.
func TestExtractToRejects(t *testing.T) {
	t.Parallel()
	small, err := extract.New(extract.Config{MaxTextBytes: 100 << 10, MaxBytes: 2 << 20, MaxDecompressedBytes: 800 << 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = small.Close() })
	sinkErr := errors.New("embedding failed")
	tests := []struct {
		name, mediaType string
		in              []byte
		sink            *collect
		want            error
	}{
		{"text past MaxTextBytes mid-stream", "text/plain", bytes.Repeat([]byte("a"), 300<<10), &collect{}, pipeline.ErrTooLarge},
		{"object past MaxBytes", "text/plain", bytes.Repeat([]byte("b "), 3<<19), &collect{}, pipeline.ErrTooLarge},
		{"only whitespace", "text/plain", []byte(" \n\t "), &collect{}, pipeline.ErrEmpty},
		{"binary", "text/plain", []byte("ab\x00cd"), &collect{}, pipeline.ErrMalformed},
		{"unsupported", "image/png", []byte("\x89PNG"), &collect{}, pipeline.ErrUnsupported},
		{"not a pdf", "application/pdf", []byte("hello"), &collect{}, pipeline.ErrMalformed},
		{"csv source past MaxDecompressedBytes", "text/csv", append([]byte("a,b\n"), bytes.Repeat([]byte(",\n"), 1<<19)...), &collect{}, pipeline.ErrTooLarge},
		{"csv text past MaxTextBytes", "text/csv", append([]byte("h\n"), bytes.Repeat([]byte("x\n"), 60<<10)...), &collect{}, pipeline.ErrTooLarge},
		{"sink error from text", "text/plain", bytes.Repeat([]byte("word "), 18000), &collect{fail: sinkErr, fails: 2}, sinkErr},
		{"sink error from pdf", "application/pdf", makePDF("one", "two"), &collect{fail: sinkErr, fails: 2}, sinkErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := small
			if strings.Contains(tt.name, "pdf") {
				e = shared(t)
			}
			err := e.ExtractTo(context.Background(), tt.mediaType, bytes.NewReader(tt.in), -1, tt.sink)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ExtractTo = %v, want %v", err, tt.want)
			}
			if errors.Is(tt.want, sinkErr) && err != sinkErr { //nolint:errorlint // the very value, unwrapped
				t.Fatalf("sink error came back wrapped: %v", err)
			}
		})
	}
}

// FuzzExtractTo: for any input of the streamed formats, ExtractTo hands
// over exactly what Extract returns (or refuses it the same way), without
// panicking.
func FuzzExtractTo(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "name;city\n\"x\ny\";z\n", "a\tb\n1\t2", "\xff\xfek\x00,\x00v\x00", "plain text\r\nmore",
		"a,\"b\n", "", " \n", "h\n" + strings.Repeat("x,y\n", 3000)} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(2))
	}
	e, err := extract.New(extract.Config{MaxTextBytes: 64 << 10, MaxDecompressedBytes: 256 << 10}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = e.Close() })
	types := []string{"text/csv", "text/tab-separated-values", "text/plain"}
	f.Fuzz(func(t *testing.T, in string, kind uint8) {
		mt := types[int(kind)%len(types)]
		want, werr := e.Extract(context.Background(), mt, strings.NewReader(in), int64(len(in)))
		var c collect
		gerr := e.ExtractTo(context.Background(), mt, strings.NewReader(in), int64(len(in)), &c)
		if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
			t.Fatalf("Extract: %v, ExtractTo: %v", werr, gerr)
		}
		if werr == nil {
			if diff := cmp.Diff(want, c.out); diff != "" {
				t.Fatalf("(-Extract +ExtractTo):\n%s", diff)
			}
		}
	})
}

// TestStreamingCSVHonoursTheDeclaredCharset: a CSV declared in a charset
// that is neither UTF-8/16 nor Windows-1252 (here KOI8-R) is decoded as
// declared on the streaming path, as for plain text.
func TestStreamingCSVHonoursTheDeclaredCharset(t *testing.T) {
	t.Parallel()
	e := shared(t)
	in := []byte("name\n\xf0\xd2\xc9\xd7\xc5\xd4\n") // "Привет" in KOI8-R
	var c collect
	if err := e.ExtractTo(context.Background(), "text/csv; charset=koi8-r", bytes.NewReader(in), int64(len(in)), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.out.Sections) != 1 || c.out.Sections[0].Text != "name: Привет" {
		t.Fatalf("sections %+v, want one \"name: Привет\"", c.out.Sections)
	}
}
