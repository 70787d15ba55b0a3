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

// TestSource: the one way a document is read at offsets (DOCX, PDF, large
// HTML). A reader that can be read at offsets is used where it lies, with
// no spool directory needed; any other is copied, held in memory up to the
// caller's bound and in an unlinked file in SpoolDir past it (refused when
// that directory is unusable), and the file is gone after release. A
// document past MaxBytes or the caller's limit is refused the same way
// either way: errInputLimit when MaxBytes is the lower bound (or equal),
// errOutputLimit when the caller's limit is.
func TestSource(t *testing.T) {
	t.Parallel()
	const n = 200 << 10 // past what open peeks and buffers: the refusals are source's
	doc := strings.Repeat("0123456789abcdef", n/16)
	type kind int
	const (
		sized   kind = iota // a bytes.Reader: read where it lies
		section             // an io.SectionReader: read where it lies
		plain               // neither: copied
	)
	tests := []struct {
		name            string
		kind            kind
		maxBytes, limit int64
		above           int64
		noSpool         bool
		cancelled       bool
		wantErr         error // nil: read back whole
		wantAnyErr      bool
		wantFile        bool // copied into the spool file (else held, or orig)
	}{
		{name: "bytes.Reader, no spool dir", kind: sized, maxBytes: n, limit: n, noSpool: true},
		{name: "SectionReader, no spool dir", kind: section, maxBytes: n, limit: n, noSpool: true},
		{name: "plain, held in memory up to above", kind: plain, maxBytes: n, limit: n, above: n, noSpool: true},
		{name: "plain, spooled past above", kind: plain, maxBytes: n, limit: n, above: n - 1, wantFile: true},
		{name: "plain, always spooled (above 0)", kind: plain, maxBytes: n, limit: n, wantFile: true},
		{name: "plain, past above, no spool dir", kind: plain, maxBytes: n, limit: n, above: n - 1, noSpool: true, wantAnyErr: true},
		{name: "plain, cancelled", kind: plain, maxBytes: n, limit: n, above: n, cancelled: true, wantErr: context.Canceled},

		{name: "sized, past MaxBytes", kind: sized, maxBytes: n - 1, limit: 2 * n, wantErr: errInputLimit},
		{name: "section, past MaxBytes", kind: section, maxBytes: n - 1, limit: 2 * n, wantErr: errInputLimit},
		{name: "plain, past MaxBytes", kind: plain, maxBytes: n - 1, limit: 2 * n, above: 2 * n, wantErr: errInputLimit},
		{name: "plain spooled, past MaxBytes", kind: plain, maxBytes: n - 1, limit: 2 * n, wantErr: errInputLimit},
		{name: "sized, past the limit", kind: sized, maxBytes: 2 * n, limit: n - 1, wantErr: errOutputLimit},
		{name: "plain, past the limit", kind: plain, maxBytes: 2 * n, limit: n - 1, above: 2 * n, wantErr: errOutputLimit},
		{name: "plain spooled, past the limit", kind: plain, maxBytes: 2 * n, limit: n - 1, wantErr: errOutputLimit},
		{name: "sized, past both, equal", kind: sized, maxBytes: n - 1, limit: n - 1, wantErr: errInputLimit},
		{name: "plain, past both, equal", kind: plain, maxBytes: n - 1, limit: n - 1, above: 2 * n, wantErr: errInputLimit},
		{name: "sized, past both, MaxBytes lower", kind: sized, maxBytes: n - 2, limit: n - 1, wantErr: errInputLimit},
		{name: "plain, past both, limit lower", kind: plain, maxBytes: n - 1, limit: n - 2, above: 2 * n, wantErr: errOutputLimit},
		{name: "sized, at both bounds", kind: sized, maxBytes: n, limit: n},
		{name: "plain, at both bounds", kind: plain, maxBytes: n, limit: n, above: n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			spool := dir
			if tt.noSpool {
				spool = filepath.Join(dir, "missing")
			}
			e := newTestExtractor(t, Config{MaxBytes: tt.maxBytes, SpoolDir: spool})
			var r io.Reader
			switch tt.kind {
			case sized:
				r = strings.NewReader(doc)
			case section:
				r = io.NewSectionReader(strings.NewReader(doc), 0, n)
			default:
				r = plainReader{strings.NewReader(doc)}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			orig := whole(r)
			_, _, br, err := e.open("text/html", r, -1)
			if err != nil {
				t.Fatal(err)
			}
			if tt.cancelled {
				cancel()
			}
			src, release, err := e.source(ctx, orig, br, tt.limit, tt.above)
			switch {
			case tt.wantErr != nil || tt.wantAnyErr:
				if err == nil {
					release()
					t.Fatalf("no error, want %v", tt.wantErr)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if tt.kind != plain && any(src) != any(r) {
					t.Errorf("got a %T, want the reader itself (read where it lies)", src)
				}
				if _, inFile := src.(*io.SectionReader); tt.kind == plain && inFile != tt.wantFile {
					t.Errorf("in the spool file: %v, want %v", inFile, tt.wantFile)
				}
				got, err := io.ReadAll(io.NewSectionReader(src, 0, src.Size()))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != doc {
					t.Errorf("read back %d bytes, want the document's %d", len(got), n)
				}
				release()
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("spool directory not empty: %v", ents)
			}
		})
	}
}

// TestSpillReserve: a spill with a reserve takes that memory at its first
// write and fills it without moving what it holds to a larger array.
func TestSpillReserve(t *testing.T) {
	t.Parallel()
	for _, reserve := range []int64{0, 1 << 10} {
		s := &spill{dir: t.TempDir(), above: 1 << 10, reserve: reserve}
		if _, err := s.WriteString("x"); err != nil {
			t.Fatal(err)
		}
		first := &s.mem[0]
		for range 1<<10 - 1 {
			if _, err := s.WriteString("y"); err != nil {
				t.Fatal(err)
			}
		}
		p, held := s.held()
		if !held || len(p) != 1<<10 {
			t.Fatalf("reserve %d: held %v, %d bytes", reserve, held, len(p))
		}
		if moved := &p[0] != first; moved != (reserve == 0) {
			t.Errorf("reserve %d: moved to a larger array: %v, want %v", reserve, moved, reserve == 0)
		}
		s.close()
	}
}
