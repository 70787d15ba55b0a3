package chunk_test

import (
	"context"
	"errors"
	"math/rand"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/pipeline"
)

// fragment splits every section of doc into continuation pieces cut at
// rune boundaries every 1..maxLen bytes (r decides where).
func fragment(doc pipeline.Extracted, r *rand.Rand, maxLen int) []pipeline.Section {
	var out []pipeline.Section
	for _, s := range doc.Sections {
		text := s.Text
		first := true
		for first || text != "" {
			n := min(len(text), 1+r.Intn(maxLen))
			for n < len(text) && !utf8.RuneStart(text[n]) {
				n++
			}
			part := s
			part.Text, part.Cont = text[:n], !first
			out = append(out, part)
			text, first = text[n:], false
		}
	}
	return out
}

// streamed chunks secs through a Stream.
func streamed(t testing.TB, c *chunk.Chunker, secs []pipeline.Section, max int) ([]pipeline.Chunk, error) {
	t.Helper()
	var out []pipeline.Chunk
	s := c.Stream(context.Background(), max, func(ch pipeline.Chunk) error {
		out = append(out, ch)
		return nil
	})
	for _, sec := range secs {
		if err := s.Add(sec); err != nil {
			return out, err
		}
	}
	return out, s.Close()
}

func randomDoc(r *rand.Rand) pipeline.Extracted {
	alphabet := []string{"a", "word", " ", "  ", "\n", "\n\n", ".", "!", "?", ")", "\"", "租", "。", "！", "é", "\xff", "\t",
		"xq7xq7xq7xq7", " Bun", "0", "…", ".\n\n", "Tenant", "。租"}
	var d pipeline.Extracted
	for s := 0; s < 1+r.Intn(4); s++ {
		var b strings.Builder
		for n := r.Intn(2500); b.Len() < n; {
			b.WriteString(alphabet[r.Intn(len(alphabet))])
		}
		d.Sections = append(d.Sections, pipeline.Section{Text: b.String(), Page: s + 1, Heading: r.Intn(5) == 0})
	}
	return d
}

// TestStreamCutsLikeWhole: a document handed over in continuation pieces of
// any size is cut exactly as the whole document is — text, offsets, pages,
// token counts and overlap.
func TestStreamCutsLikeWhole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  chunk.Config
		docs func(r *rand.Rand) []pipeline.Extracted
	}{
		{name: "prose, default size", docs: func(*rand.Rand) []pipeline.Extracted {
			return []pipeline.Extracted{secs(prose(40000)), secs(prose(3000), "", " ", prose(2000))}
		}},
		{name: "random text, small chunks", cfg: chunk.Config{MaxTokens: 24, OverlapTokens: 8}, docs: func(r *rand.Rand) []pipeline.Extracted {
			var out []pipeline.Extracted
			for range 60 {
				out = append(out, randomDoc(r))
			}
			return out
		}},
		{name: "no overlap, long runs", cfg: chunk.Config{MaxTokens: 32, OverlapTokens: chunk.NoOverlap}, docs: func(*rand.Rand) []pipeline.Extracted {
			return []pipeline.Extracted{secs("a" + strings.Repeat(" ", 5000) + "b"), secs(strings.Repeat("xq7", 3000)),
				secs(strings.Repeat("租户上传文档。向量检索很快！", 100)), secs("end. ", "\nnext")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := chunk.New(tt.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewSource(15))
			for i, doc := range tt.docs(r) {
				want, werr := c.Chunk(context.Background(), doc)
				for _, maxLen := range []int{1, 7, 300, 5000} {
					parts := fragment(doc, r, maxLen)
					got, gerr := streamed(t, c, parts, 0)
					if !errors.Is(gerr, werr) && (gerr == nil || werr == nil || gerr.Error() != werr.Error()) {
						t.Fatalf("doc %d, pieces ≤%d: error %v, whole %v", i, maxLen, gerr, werr)
					}
					if werr != nil {
						continue
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Fatalf("doc %d, pieces ≤%d: streamed chunks differ (-whole +streamed):\n%s", i, maxLen, diff)
					}
					joined := pipeline.Extracted{Sections: parts}
					if chunk.Text(joined) != chunk.Text(doc) {
						t.Fatalf("doc %d: Text of the pieces differs from the whole", i)
					}
				}
			}
		})
	}
}

func TestStreamRejects(t *testing.T) {
	t.Parallel()
	c, err := chunk.New(chunk.Config{MaxTokens: 32}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("cap bites while streaming", func(t *testing.T) {
		t.Parallel()
		n := 0
		s := c.Stream(context.Background(), 3, func(pipeline.Chunk) error { n++; return nil })
		var err error
		for i := 0; i < 1000 && err == nil; i++ {
			err = s.Add(pipeline.Section{Text: prose(500), Cont: i > 0})
		}
		if !errors.Is(err, pipeline.ErrTooLarge) || n != 3 {
			t.Fatalf("err %v after %d chunks, want ErrTooLarge after 3", err, n)
		}
	})
	t.Run("yield error stops the stream", func(t *testing.T) {
		t.Parallel()
		stop := errors.New("stop")
		s := c.Stream(context.Background(), 0, func(pipeline.Chunk) error { return stop })
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			err = s.Add(pipeline.Section{Text: prose(500)})
		}
		if err == nil {
			err = s.Close()
		}
		if !errors.Is(err, stop) {
			t.Fatalf("err %v, want the yield's", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		s := c.Stream(context.Background(), 0, func(pipeline.Chunk) error { return nil })
		if err := s.Add(pipeline.Section{Text: "  \n"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); !errors.Is(err, pipeline.ErrEmpty) {
			t.Fatalf("Close = %v, want ErrEmpty", err)
		}
		if err := s.Add(pipeline.Section{Text: "late"}); err == nil {
			t.Fatal("Add after Close accepted")
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		s := c.Stream(ctx, 0, func(pipeline.Chunk) error { return nil })
		cancel()
		if err := s.Add(pipeline.Section{Text: "text"}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Add = %v, want context.Canceled", err)
		}
	})
}

// FuzzStream: any split of any document into continuation pieces is cut
// exactly as the whole.
func FuzzStream(f *testing.F) {
	for _, s := range []string{"Hello tenant. More.", prose(400), "租户上传文档。向量检索", "a" + strings.Repeat(" ", 300) + "b", "end. \x00\nnext", "0)\n\n\n0"} {
		f.Add(s, uint8(3), int64(1))
	}
	c, err := chunk.New(chunk.Config{MaxTokens: 20, OverlapTokens: 6}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data string, maxLen uint8, seed int64) {
		var doc pipeline.Extracted
		for _, s := range strings.Split(data, "\x00") {
			doc.Sections = append(doc.Sections, pipeline.Section{Text: s})
		}
		want, werr := c.Chunk(context.Background(), doc)
		got, gerr := streamed(t, c, fragment(doc, rand.New(rand.NewSource(seed)), 1+int(maxLen)), 0)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("errors differ: whole %v, streamed %v", werr, gerr)
		}
		if werr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("streamed chunks differ (-whole +streamed):\n%s", diff)
			}
		}
	})
}
