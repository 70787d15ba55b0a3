package extract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// TestSpillMovesToFile: a spill holds what is written in memory up to its
// bound and moves all of it to a file when the next write would pass it;
// either way it reads back what was written.
func TestSpillMovesToFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		above  int64
		writes []string
		inFile bool
	}{
		{"nothing written", 4, nil, false},
		{"exactly the bound", 4, []string{"ab", "cd"}, false},
		{"one past the bound", 4, []string{"ab", "cd", "e"}, true},
		{"one big write", 4, []string{"abcdefgh"}, true},
		{"bound below zero, empty writes", -1, []string{"", ""}, false},
		{"bound below zero", -1, []string{"x"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &spill{dir: t.TempDir(), above: tt.above}
			defer s.close()
			var want strings.Builder
			for i, w := range tt.writes {
				var err error
				if i%2 == 0 {
					_, err = s.WriteString(w)
				} else {
					_, err = s.Write([]byte(w))
				}
				if err != nil {
					t.Fatal(err)
				}
				want.WriteString(w)
			}
			mem, held := s.held()
			if held == tt.inFile {
				t.Fatalf("held in memory: %v, want %v", held, !tt.inFile)
			}
			if tt.inFile && mem != nil {
				t.Fatalf("%d bytes still in memory after the move to a file", len(mem))
			}
			if s.size() != int64(want.Len()) {
				t.Fatalf("size %d, want %d", s.size(), want.Len())
			}
			got, err := io.ReadAll(io.NewSectionReader(s.readerAt(), 0, s.size()))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want.String() {
				t.Fatalf("read back %q, want %q", got, want.String())
			}
		})
	}
}

// TestSpillRefused: a spool directory that cannot be written is an error
// once the spill passes its bound, not before.
func TestSpillRefused(t *testing.T) {
	t.Parallel()
	s := &spill{dir: filepath.Join(t.TempDir(), "missing"), above: 2}
	defer s.close()
	if _, err := s.WriteString("ab"); err != nil {
		t.Fatalf("within the bound: %v", err)
	}
	if _, err := s.WriteString("c"); err == nil {
		t.Fatal("no error past the bound with no spool directory")
	}
}

var utf8Inputs = []string{
	"", "a", "plain ascii", "caf\xc3\xa9", "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", "\xf0\x9f\x98\x80x\xf0\x9f\x98\x80",
	"caf\xe9", "\xc3", "ab\xe2\x82", "\xf0\x9f\x98", "\x80", "a\x80b", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80",
	"\xe2\x82\xac\xff", "\xff\xe2\x82\xac", strings.Repeat("\xe2\x82\xac", 40) + "\xe2\x82",
}

// TestValidUTF8At: read in blocks of any size, a source is valid UTF-8
// exactly when utf8.Valid says the whole is.
func TestValidUTF8At(t *testing.T) {
	t.Parallel()
	for i, in := range utf8Inputs {
		for _, block := range []int{1, 2, 3, 4, 5, 7, 64 << 10} {
			t.Run(strconv.Itoa(i)+"/"+strconv.Itoa(block), func(t *testing.T) {
				t.Parallel()
				got, err := validUTF8At(context.Background(), strings.NewReader(in), block)
				if err != nil {
					t.Fatal(err)
				}
				if want := utf8.ValidString(in); got != want {
					t.Fatalf("validUTF8At(%q, %d) = %v, want %v", in, block, got, want)
				}
			})
		}
	}
}

func FuzzValidUTF8At(f *testing.F) {
	for _, in := range utf8Inputs {
		f.Add([]byte(in), 3)
	}
	f.Fuzz(func(t *testing.T, in []byte, block int) {
		block = 1 + abs(block)%16
		got, err := validUTF8At(context.Background(), bytes.NewReader(in), block)
		if err != nil {
			t.Fatal(err)
		}
		if want := utf8.Valid(in); got != want {
			t.Fatalf("validUTF8At(%q, %d) = %v, want %v", in, block, got, want)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestContainsAt: a string is found wherever it lies, across the boundary
// between two blocks too.
func TestContainsAt(t *testing.T) {
	t.Parallel()
	const sub = "\xef\xbf\xbd"
	pad := strings.Repeat("a", 64<<10)
	tests := []struct {
		name, in string
		want     bool
	}{
		{"empty", "", false},
		{"alone", sub, true},
		{"at the start", sub + pad, true},
		{"at the end", pad + pad + sub, true},
		{"across a boundary, 1+2", pad[1:] + sub + pad, true},
		{"across a boundary, 2+1", pad[2:] + sub + pad, true},
		{"prefix only at the end", pad + sub[:2], false},
		{"split by a byte", pad[1:] + sub[:2] + "a" + sub[2:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := containsAt(context.Background(), strings.NewReader(tt.in), sub)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("containsAt = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLineReader: lines come back whole with their line feeds, those
// longer than the reader's buffer too.
func TestLineReader(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100)
	for _, in := range []string{"", "a", "a\n", "a\nb", "\n\n", long, long + "\n" + long, "a\n" + long + "\nb\n"} {
		l := newLineReader(bufio.NewReaderSize(strings.NewReader(in), 16))
		var got []string
		for {
			line, err := l.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(line))
		}
		var want []string
		for line := range strings.Lines(in) {
			want = append(want, line)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", in, diff)
		}
	}
}

// plainReader hides every method of r but Read (an object body that cannot
// be read at offsets).
type plainReader struct{ r io.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

// TestStreamedSourceSpooled: the decoded source of an HTML or Markdown
// document above the incremental readers' threshold is spooled to
// SpoolDir, not held (with no usable spool directory it is refused, before
// any section is handed over), and the sections are those of the whole
// parse; a source at or below the threshold is held in memory and parsed
// whole, and needs no spool directory, whether or not the reader can be
// read at offsets.
func TestStreamedSourceSpooled(t *testing.T) {
	t.Parallel()
	var html, md strings.Builder
	html.WriteString("<html><head><title>T</title></head><body><main>")
	for i := range 200 {
		html.WriteString("<h2>Part " + strconv.Itoa(i) + "</h2><p>Some text of the part, caf\xc3\xa9.</p>\n")
		md.WriteString("## Part " + strconv.Itoa(i) + "\n\nSome text of the part, [caf\xc3\xa9][c].\n\n")
	}
	html.WriteString("</main></body></html>")
	md.WriteString("[c]: /cafe\n")
	docs := []struct{ mediaType, src string }{{"text/html", html.String()}, {"text/markdown", md.String()}}
	readers := map[string]func(string) io.Reader{
		"strings.Reader": func(s string) io.Reader { return strings.NewReader(s) },
		"plain reader":   func(s string) io.Reader { return plainReader{strings.NewReader(s)} },
	}
	for _, d := range docs {
		for rname, reader := range readers {
			for _, streamed := range []bool{true, false} {
				for _, spoolOK := range []bool{true, false} {
					name := d.mediaType + "/" + rname + map[bool]string{true: "/streamed", false: "/whole"}[streamed] +
						map[bool]string{true: "/spool", false: "/no spool"}[spoolOK]
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						dir := t.TempDir()
						cfg := Config{SpoolDir: dir}
						if !spoolOK {
							cfg.SpoolDir = filepath.Join(dir, "missing")
						}
						e := newTestExtractor(t, cfg)
						want, err := e.Extract(context.Background(), d.mediaType, strings.NewReader(d.src), int64(len(d.src)))
						if err != nil {
							t.Fatal(err)
						}
						above := len(d.src) // parsed whole
						if streamed {
							above = 1 << 10
						}
						e.htmlStream = &htmlStreamConfig{above: above, segment: 1 << 10, descend: 4 << 10}
						e.mdStream = &mdStreamConfig{above: above, segment: 1 << 10}
						var got joined
						err = e.ExtractTo(context.Background(), d.mediaType, reader(d.src), int64(len(d.src)), &got)
						if streamed && !spoolOK {
							if err == nil || len(got.out) > 0 {
								t.Fatalf("no spool directory: %v, %d sections handed over; want an error and none", err, len(got.out))
							}
							return
						}
						if err != nil {
							t.Fatal(err)
						}
						if diff := cmp.Diff(want.Sections, got.out); diff != "" {
							t.Errorf("differs from Extract (-want +got):\n%s", diff)
						}
						if ents, _ := os.ReadDir(dir); len(ents) != 0 {
							t.Errorf("spool directory not empty: %v", ents)
						}
					})
				}
			}
		}
	}
}
