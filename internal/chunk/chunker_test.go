package chunk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/pipeline"
)

// prose returns n bytes (about) of varied English sentences, paragraphs of
// five sentences.
func prose(n int) string {
	words := strings.Fields("tenant document chunk vector embedding search audit chain policy row level security worker queue message envelope signature key rotation bucket object version page heading paragraph sentence token model provider quota latency")
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		k := 6 + i%9
		for j := 0; j < k; j++ {
			w := words[(i*7+j*3)%len(words)]
			if j == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			} else {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
		b.WriteString(".")
		if i%5 == 4 {
			b.WriteString("\n\n")
		} else {
			b.WriteString(" ")
		}
	}
	return b.String()
}

func secs(texts ...string) pipeline.Extracted {
	var d pipeline.Extracted
	for _, t := range texts {
		d.Sections = append(d.Sections, pipeline.Section{Text: t})
	}
	return d
}

// checkChunks asserts the invariants every chunking must keep.
func checkChunks(t testing.TB, cfg chunk.Config, doc pipeline.Extracted, chunks []pipeline.Chunk) {
	t.Helper()
	text := []rune(chunk.Text(doc))
	covered := make([]bool, len(text))
	prevStart, prevEnd := -1, -1
	for i, c := range chunks {
		if c.Ordinal != i {
			t.Fatalf("chunk %d: ordinal %d", i, c.Ordinal)
		}
		if c.CharStart < 0 || c.CharStart >= c.CharEnd || c.CharEnd > len(text) {
			t.Fatalf("chunk %d: offsets [%d,%d) outside [0,%d)", i, c.CharStart, c.CharEnd, len(text))
		}
		if got := string(text[c.CharStart:c.CharEnd]); got != c.Text {
			t.Fatalf("chunk %d: text[%d:%d] = %q, chunk text %q", i, c.CharStart, c.CharEnd, got, c.Text)
		}
		if c.CharStart <= prevStart || c.CharEnd <= prevEnd {
			t.Fatalf("chunk %d [%d,%d) not after chunk %d [%d,%d)", i, c.CharStart, c.CharEnd, i-1, prevStart, prevEnd)
		}
		if c.TokenCount <= 0 {
			t.Fatalf("chunk %d: token count %d", i, c.TokenCount)
		}
		if strings.TrimSpace(c.Text) != c.Text {
			t.Fatalf("chunk %d not trimmed", i)
		}
		prevStart, prevEnd = c.CharStart, c.CharEnd
		for k := c.CharStart; k < c.CharEnd; k++ {
			covered[k] = true
		}
	}
	for k, r := range text {
		if !covered[k] && !unicode.IsSpace(r) {
			t.Fatalf("rune %d %q not covered by any chunk", k, r)
		}
	}
}

func newChunker(t testing.TB, cfg chunk.Config) *chunk.Chunker {
	t.Helper()
	c, err := chunk.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChunk(t *testing.T) {
	t.Parallel()
	long := prose(20000)
	tests := []struct {
		name      string
		cfg       chunk.Config
		doc       pipeline.Extracted
		minChunks int
		maxChunks int
		check     func(t *testing.T, chunks []pipeline.Chunk)
	}{
		{name: "short", doc: secs("Hello tenant."), minChunks: 1, maxChunks: 1},
		{name: "long prose", cfg: chunk.Config{MaxTokens: 128, OverlapTokens: 16}, doc: secs(long), minChunks: 20, maxChunks: 80},
		{name: "no overlap", cfg: chunk.Config{MaxTokens: 128, OverlapTokens: chunk.NoOverlap}, doc: secs(long), minChunks: 20, maxChunks: 80,
			check: func(t *testing.T, chunks []pipeline.Chunk) {
				for i := 1; i < len(chunks); i++ {
					if chunks[i].CharStart < chunks[i-1].CharEnd {
						t.Fatalf("chunks %d and %d overlap without overlap configured", i-1, i)
					}
				}
			}},
		{name: "overlap repeats the end", cfg: chunk.Config{MaxTokens: 64, OverlapTokens: 24}, doc: secs(long[:4000]), minChunks: 5, maxChunks: 60,
			check: func(t *testing.T, chunks []pipeline.Chunk) {
				overlapping := 0
				for i := 1; i < len(chunks); i++ {
					if chunks[i].CharStart < chunks[i-1].CharEnd {
						overlapping++
					}
				}
				if overlapping == 0 {
					t.Fatal("no chunk overlaps its predecessor")
				}
			}},
		{name: "headings start chunks", cfg: chunk.Config{MaxTokens: 200, OverlapTokens: 20},
			doc: pipeline.Extracted{Sections: []pipeline.Section{
				{Text: "Intro", Heading: true}, {Text: prose(600)},
				{Text: "Details", Heading: true}, {Text: prose(600)},
			}}, minChunks: 2, maxChunks: 8,
			check: func(t *testing.T, chunks []pipeline.Chunk) {
				found := false
				for _, c := range chunks {
					if strings.HasPrefix(c.Text, "Details") {
						found = true
					}
				}
				if !found {
					t.Fatal("no chunk starts at the second heading")
				}
			}},
		{name: "one huge word", cfg: chunk.Config{MaxTokens: 32, OverlapTokens: chunk.NoOverlap}, doc: secs(strings.Repeat("xq7", 3000)), minChunks: 20, maxChunks: 2000},
		{name: "huge whitespace run", cfg: chunk.Config{MaxTokens: 32}, doc: secs("a" + strings.Repeat(" ", 100000) + "b"), minChunks: 1, maxChunks: 2},
		{name: "cjk without spaces", cfg: chunk.Config{MaxTokens: 40}, doc: secs(strings.Repeat("租户上传文档。向量检索很快！", 200)), minChunks: 10, maxChunks: 400},
		{name: "pages", cfg: chunk.Config{MaxTokens: 64},
			doc:       pipeline.Extracted{Sections: []pipeline.Section{{Text: prose(500), Page: 1}, {Text: prose(500), Page: 2}, {Text: prose(500), Page: 3}}},
			minChunks: 3, maxChunks: 40,
			check: func(t *testing.T, chunks []pipeline.Chunk) {
				if chunks[0].Page != 1 || chunks[len(chunks)-1].Page != 3 {
					t.Fatalf("pages: first %d last %d", chunks[0].Page, chunks[len(chunks)-1].Page)
				}
				for i := 1; i < len(chunks); i++ {
					if chunks[i].Page < chunks[i-1].Page {
						t.Fatalf("page goes back at chunk %d", i)
					}
				}
			}},
		{name: "blank sections between", doc: secs("", "  ", "alpha", "", "beta", "\n"), minChunks: 1, maxChunks: 1},
		// Each empty section adds a separator to the text: a long newline
		// run counts more than the one token a single separator does.
		{name: "many empty sections between", cfg: chunk.Config{MaxTokens: 16}, doc: secs(append(append([]string{"a"}, make([]string, 40)...), "b")...), minChunks: 1, maxChunks: 1},
		{name: "csv rows", cfg: chunk.Config{MaxTokens: 48}, doc: secs(strings.Repeat("name: Ada | city: London | role: engineer\n", 50)), minChunks: 5, maxChunks: 60,
			check: func(t *testing.T, chunks []pipeline.Chunk) {
				for _, c := range chunks[:len(chunks)-1] {
					if !strings.HasSuffix(c.Text, "engineer") {
						t.Fatalf("chunk does not end at a row: %q", c.Text)
					}
				}
			}},
		{name: "invalid utf8 kept as is", doc: secs("ok \xff\xfe text"), minChunks: 1, maxChunks: 1},
		// The overlap must not carry the whole visible text of a chunk whose
		// first piece is only whitespace (found by FuzzChunk): each chunk
		// starts after the previous one.
		{name: "whitespace-only first piece and overlap", cfg: chunk.Config{MaxTokens: 18, OverlapTokens: 6},
			doc: secs(" ", "000"+strings.Repeat(" ", 103)+strings.Repeat("0", 39)), minChunks: 2, maxChunks: 4},
		// The second word fits MaxTokens with its leading space, not without
		// it (found by FuzzChunk): the chunk must still not exceed MaxTokens.
		{name: "word one token longer without its space", cfg: chunk.Config{MaxTokens: 48, OverlapTokens: 4},
			doc: secs("0 %#000.A0A0A0a00&0Y0BA0AA0A0A0AA0A0A0Y00A\xd20Z0A00B0\xc70A0B0A00A"), minChunks: 2, maxChunks: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newChunker(t, tt.cfg)
			chunks, err := c.Chunk(context.Background(), tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if len(chunks) < tt.minChunks || len(chunks) > tt.maxChunks {
				t.Fatalf("%d chunks, want [%d,%d]", len(chunks), tt.minChunks, tt.maxChunks)
			}
			checkChunks(t, c.Config(), tt.doc, chunks)
			for i, ch := range chunks {
				if ch.TokenCount > c.Config().MaxTokens {
					t.Fatalf("chunk %d: %d tokens > %d", i, ch.TokenCount, c.Config().MaxTokens)
				}
				// TokenCount is an upper bound, tight for text cut at spaces.
				exact := c.Counter().Count(ch.Text)
				if ch.TokenCount < exact || ch.TokenCount > exact+exact/10+3 && tt.name != "one huge word" && tt.name != "cjk without spaces" {
					t.Fatalf("chunk %d: TokenCount %d, exact %d", i, ch.TokenCount, exact)
				}
			}
			if tt.check != nil {
				tt.check(t, chunks)
			}
			again, err := c.Chunk(context.Background(), tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(chunks, again); diff != "" {
				t.Fatalf("not deterministic (-first +second):\n%s", diff)
			}
		})
	}
}

// TokenCount is never below the exact count where pieces join in ways the
// tokenizer does not split: punctuation before line breaks, whitespace runs
// joined across (empty) sections, a whitespace run cut in two. Each input
// here undercounted once (most found by FuzzChunk).
func TestTokenCountAtJoins(t *testing.T) {
	t.Parallel()
	empties := func(n int) []string { return make([]string, n) }
	tests := []struct {
		name string
		secs []string
	}{
		{name: "punctuation, then empty sections", secs: append(append([]string{"0)"}, empties(15)...), "0")},
		{name: "letters across empty sections", secs: append(append([]string{"a"}, empties(12)...), "b")},
		{name: "spaces on both sides of a section boundary", secs: []string{"0" + strings.Repeat(" ", 190), strings.Repeat(" ", 66) + "0"}},
		{name: "punctuation before line breaks", secs: []string{"0)" + strings.Repeat("\n", 34) + "0"}},
		{name: "sentence end before a paragraph", secs: []string{"a." + strings.Repeat("\n", 15) + "b"}},
		{name: "trailing space, leading newline", secs: []string{"end. ", "\nnext"}},
		{name: "invalid bytes", secs: []string{strings.Repeat("\x8d", 86)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newChunker(t, chunk.Config{MaxTokens: 39, OverlapTokens: 8})
			doc := secs(tt.secs...)
			chunks, err := c.Chunk(context.Background(), doc)
			if err != nil {
				t.Fatal(err)
			}
			checkChunks(t, c.Config(), doc, chunks)
			for i, ch := range chunks {
				if exact := c.Counter().Count(ch.Text); ch.TokenCount < exact {
					t.Fatalf("chunk %d: TokenCount %d below the exact count %d", i, ch.TokenCount, exact)
				}
			}
		})
	}
}

func TestChunkRejects(t *testing.T) {
	t.Parallel()
	c := newChunker(t, chunk.Config{})
	for _, doc := range []pipeline.Extracted{{}, secs(""), secs(" \n\t ", "\n\n")} {
		if _, err := c.Chunk(context.Background(), doc); !errors.Is(err, pipeline.ErrEmpty) {
			t.Fatalf("Chunk(%q) = %v, want ErrEmpty", chunk.Text(doc), err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Chunk(ctx, secs(prose(1000))); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestChunkStopsOnCancel(t *testing.T) {
	t.Parallel()
	c := newChunker(t, chunk.Config{MaxTokens: 16, OverlapTokens: chunk.NoOverlap})
	ctx, cancel := context.WithCancel(context.Background())
	// A document big enough that the chunker checks ctx while working.
	doc := secs(strings.Repeat("a b c d e f g h. ", 200000))
	cancel()
	if _, err := c.Chunk(ctx, doc); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestConfigRejects(t *testing.T) {
	t.Parallel()
	for _, cfg := range []chunk.Config{
		{MaxTokens: 8},
		{MaxTokens: -1},
		{MaxTokens: 100, OverlapTokens: 51},
		{MaxTokens: 100, OverlapTokens: -7},
	} {
		if _, err := chunk.New(cfg, nil); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		doc  pipeline.Extracted
		want string
	}{
		{pipeline.Extracted{}, ""},
		{secs("a"), "a"},
		{secs("a", "b"), "a\n\nb"},
		{secs("", "b", ""), "\n\nb\n\n"},
	}
	for _, tt := range tests {
		if got := chunk.Text(tt.doc); got != tt.want {
			t.Errorf("Text = %q, want %q", got, tt.want)
		}
	}
}

func TestCounter(t *testing.T) {
	t.Parallel()
	c, err := chunk.NewCounter()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"hello world", 2},
		{"tiktoken is great!", 6},
	}
	for _, tt := range tests {
		if got := c.Count(tt.in); got != tt.want {
			t.Errorf("Count(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	// Long text is counted in segments; the sum stays close to the truth
	// for prose.
	p := prose(5000)
	n := c.Count(p)
	if n < 700 || n > 1300 {
		t.Errorf("Count(5000 bytes of prose) = %d", n)
	}
}

// FuzzChunk checks the invariants on arbitrary text: no panic, offsets inside
// the text and matching the chunk text, chunks in order, every non-space rune
// covered. A NUL byte in the input starts a new section; a leading '#' in a
// section makes it a heading; sections alternate pages.
func FuzzChunk(f *testing.F) {
	for _, s := range []string{
		"Hello tenant.", prose(300), "#Title\x00body text. More.\x00#Next\x00tail",
		strings.Repeat("xq7", 100), "a" + strings.Repeat(" ", 300) + "b",
		strings.Repeat("租户上传文档。", 10), "ok \xff\xfe text", "\x00\x00\n\n\x00",
		"0B00A0A0A0A00B0A\x0000A\x00 ", " Bun",
		"a" + strings.Repeat("\x00", 12) + "b",
	} {
		f.Add(s, uint8(32), uint8(8))
	}
	f.Fuzz(func(t *testing.T, data string, maxTok, overlap uint8) {
		cfg := chunk.Config{MaxTokens: 16 + int(maxTok), OverlapTokens: int(overlap) % ((16 + int(maxTok)) / 2)}
		if cfg.OverlapTokens == 0 {
			cfg.OverlapTokens = chunk.NoOverlap
		}
		c, err := chunk.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		doc := fuzzDoc(data)
		chunks, err := c.Chunk(context.Background(), doc)
		if errors.Is(err, pipeline.ErrEmpty) {
			if strings.TrimSpace(chunk.Text(doc)) != "" {
				t.Fatalf("ErrEmpty for text with non-space runes")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkChunks(t, c.Config(), doc, chunks)
		for i, ch := range chunks {
			if ch.TokenCount > cfg.MaxTokens && utf8.RuneCountInString(ch.Text) > 1 {
				t.Fatalf("chunk %d: %d tokens > MaxTokens %d", i, ch.TokenCount, cfg.MaxTokens)
			}
			if exact := c.Counter().Count(ch.Text); ch.TokenCount < exact {
				t.Fatalf("chunk %d: TokenCount %d below the exact count %d", i, ch.TokenCount, exact)
			}
		}
	})
}

// fuzzDoc makes a fuzzer's string a document: a NUL byte starts a new
// section, a leading '#' makes a section a heading, sections alternate pages.
func fuzzDoc(data string) pipeline.Extracted {
	var doc pipeline.Extracted
	for i, s := range strings.Split(data, "\x00") {
		sec := pipeline.Section{Text: s, Page: i/2 + 1}
		if strings.HasPrefix(s, "#") {
			sec.Heading = true
		}
		doc.Sections = append(doc.Sections, sec)
	}
	return doc
}

// BenchmarkChunk chunks 1 MB of prose (512-token chunks, 64 overlap) and
// reports MB/s.
func BenchmarkChunk(b *testing.B) {
	c := newChunker(b, chunk.Config{})
	doc := secs(prose(1 << 20))
	b.SetBytes(int64(len(doc.Sections[0].Text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Chunk(context.Background(), doc); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleNew() {
	c, err := chunk.New(chunk.Config{MaxTokens: 64, OverlapTokens: 8}, nil)
	if err != nil {
		panic(err)
	}
	doc := pipeline.Extracted{Sections: []pipeline.Section{
		{Text: "Tenancy", Heading: true},
		{Text: "Every row carries its tenant. The database refuses rows of another tenant."},
	}}
	chunks, err := c.Chunk(context.Background(), doc)
	if err != nil {
		panic(err)
	}
	for _, ch := range chunks {
		fmt.Printf("%d [%d,%d) %d tokens: %s\n", ch.Ordinal, ch.CharStart, ch.CharEnd, ch.TokenCount, ch.Text)
	}
	// Output:
	// 0 [0,83) 17 tokens: Tenancy
	//
	// Every row carries its tenant. The database refuses rows of another tenant.
}

func ExampleNewCounter() {
	c, err := chunk.NewCounter()
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Count("Tenant-scoped chunks, counted in cl100k_base tokens."))
	// Output: 13
}

// TestChunkAtMost checks that the chunk cap bites while chunking: the
// chunker yields at most max chunks, refuses at the first chunk past it with
// ErrTooLarge, and a document far over the cap is not cut to its end.
func TestChunkAtMost(t *testing.T) {
	t.Parallel()
	cfg := chunk.Config{MaxTokens: 64, OverlapTokens: 8}
	c := newChunker(t, cfg)
	doc := secs(prose(40000), prose(10000))
	all, err := c.Chunk(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	n := len(all)
	if n < 50 {
		t.Fatalf("only %d chunks; the test needs a longer document", n)
	}
	// A 64 MiB document: cutting it whole takes minutes (the probe's
	// defect); with the cap it stops after a few chunks.
	huge := secs(strings.Repeat(prose(1<<20), 64))
	tests := []struct {
		name      string
		doc       pipeline.Extracted
		max       int
		wantErr   error
		wantYield int
	}{
		{"no cap", doc, 0, nil, n},
		{"cap above", doc, n + 1, nil, n},
		{"cap exact", doc, n, nil, n},
		{"one past the cap", doc, n - 1, pipeline.ErrTooLarge, n - 1},
		{"far past the cap", doc, 3, pipeline.ErrTooLarge, 3},
		{"huge document, cap 1", huge, 1, pipeline.ErrTooLarge, 1},
		{"huge document, cap 10", huge, 10, pipeline.ErrTooLarge, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []pipeline.Chunk
			err := c.Each(context.Background(), tt.doc, tt.max, func(ch pipeline.Chunk) error {
				got = append(got, ch)
				return nil
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && pipeline.Reason(err) != "document_too_large" {
				t.Fatalf("reason %q", pipeline.Reason(err))
			}
			if len(got) != tt.wantYield {
				t.Fatalf("yielded %d chunks, want %d", len(got), tt.wantYield)
			}
			if tt.doc.Sections[0].Text == doc.Sections[0].Text {
				// What was yielded before the stop is what Chunk makes.
				if diff := cmp.Diff(all[:len(got)], got); diff != "" {
					t.Fatalf("chunks differ from Chunk's (-want +got):\n%s", diff)
				}
			}
			chunks, err2 := c.ChunkAtMost(context.Background(), tt.doc, tt.max)
			if (err == nil) != (err2 == nil) || (err2 == nil && len(chunks) != len(got)) {
				t.Fatalf("ChunkAtMost = %d chunks, %v; Each = %d, %v", len(chunks), err2, len(got), err)
			}
		})
	}
}

// TestEachStopsAtYieldError: an error from yield stops chunking and is
// returned as it is.
func TestEachStopsAtYieldError(t *testing.T) {
	t.Parallel()
	c := newChunker(t, chunk.Config{MaxTokens: 64})
	stop := errors.New("stop")
	calls := 0
	err := c.Each(context.Background(), secs(prose(20000)), 0, func(pipeline.Chunk) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
}

// BenchmarkChunkCap compares a document far over the chunk cap (64 MiB of
// prose, cap 20000 chunks of 64 tokens would need ~5 MiB) with one under it.
func BenchmarkChunkCap(b *testing.B) {
	c := newChunker(b, chunk.Config{MaxTokens: 64, OverlapTokens: 8})
	cases := []struct {
		name string
		doc  pipeline.Extracted
		max  int
	}{
		{"normal_1MiB", secs(prose(1 << 20)), 20000},
		{"over_cap_64MiB", secs(strings.Repeat(prose(1<<20), 64)), 20000},
	}
	for _, cs := range cases {
		b.Run(cs.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.ChunkAtMost(context.Background(), cs.doc, cs.max)
			}
		})
	}
}

// TestTextBytesFor: the text limit derived from the chunk cap.
func TestTextBytesFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg       chunk.Config
		maxChunks int
		want      int64
	}{
		{chunk.Config{}, 20000, 20000 * 512 * chunk.BytesPerToken}, // 80 MiB
		{chunk.Config{MaxTokens: 256}, 1000, 1000 * 256 * chunk.BytesPerToken},
		{chunk.Config{}, 0, 0},
	}
	for _, tt := range tests {
		if got := tt.cfg.TextBytesFor(tt.maxChunks); got != tt.want {
			t.Errorf("%+v.TextBytesFor(%d) = %d, want %d", tt.cfg, tt.maxChunks, got, tt.want)
		}
	}
	// The derivation holds for ordinary prose: a cap's worth of default
	// chunks covers less text than the derived limit.
	c := newChunker(t, chunk.Config{})
	chunks, err := c.Chunk(context.Background(), secs(prose(1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	perChunk := int64(chunks[len(chunks)-1].CharEnd) / int64(len(chunks))
	if limit := c.Config().TextBytesFor(1); perChunk >= limit {
		t.Fatalf("prose averages %d bytes per chunk, over the derived limit per chunk %d", perChunk, limit)
	}
	t.Logf("prose: %d bytes per chunk; derived limit %d per chunk", perChunk, c.Config().TextBytesFor(1))
}
