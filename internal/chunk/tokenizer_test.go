package chunk_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dlclark/regexp2"
	"github.com/google/go-cmp/cmp"

	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/pipeline"
)

// tricky are runes at the edges of the pre-tokenizer's classes: ASCII
// letters (the contractions' in both cases), digits and other numbers,
// apostrophes, punctuation and symbols, every kind of whitespace, combining
// marks, CJK, emoji and their joiners, and U+FFFD.
var tricky = []rune("aAsStTrReEvVmMlLdDxZ019'’\".,;:!?-_()[]{}<>/\\#$%&*+=@^`|~ \t\n\r\v\f\u0085\u00a0\u1680\u2000\u2028\u2029\u202f\u205f\u3000" +
	"éßЖж中文字。！？ア한ـ\u0301\u0610٣४௫²½Ⅻ〇😀👍🏽\u200d❤\ufe0f🇩🇪\ufffd\u0000\u007f")

// corpus is text of every kind the chunker meets, and some it should not.
func corpus() map[string]string {
	var code strings.Builder
	for i := range 40 {
		code.WriteString("func (s *Store) Put" + string(rune('A'+i%26)) + "(ctx context.Context, k string) error {\n\tif err := s.db.Exec(ctx, `INSERT INTO t VALUES ($1)`, k); err != nil {\n\t\treturn fmt.Errorf(\"put %q: %w\", k, err)\n\t}\n\treturn nil // ok\r\n}\n\n")
	}
	r := rand.New(rand.NewPCG(1, 2))
	random := func(n int, alphabet []rune) string {
		b := make([]rune, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	return map[string]string{
		"prose":         prose(6000),
		"code":          code.String(),
		"json":          strings.Repeat(`{"tenant_id":"6f1c0a52-0b1e-4d2b-9d8e-3c4f5a6b7c8d","chunks":[1,22,333,4444,55555],"ok":true,"score":-0.125e+3}`+"\n", 30),
		"markdown":      strings.Repeat("# Title\n\n- item *one*\n- item **two**\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```go\nx := 1\n```\n\n> quoted...\n\n", 20),
		"html":          strings.Repeat("<p class=\"x\">Hello&nbsp;<b>tenant</b></p>\n<br/><script>var x = 'y';</script>\n", 30),
		"contractions":  "I'm sure they'RE here; we've WE'VE you'll YOU'LL he'd HE'D it's IT'S can't CAN'T 'S 'T 'Re 'rE 'vE 'Ll 'lL 'M 'D 'x ''s '' ' s' 'llama we'llama WE'LLAMA it'sam o'Town they'really I'REVEL I'veal I'mom he'Dead x'r x'v x'l x'lx x're1 x'S1 x'\u00e9t 1'm 1'llx .'s\n'd",
		"cjk":           strings.Repeat("租户上传文档。向量检索很快！テナントの文書を検索します。한국어 문장도 있습니다.\n", 40),
		"mixed scripts": strings.Repeat("Привет, мир! مرحبا بالعالم. नमस्ते दुनिया। สวัสดีชาวโลก Γειά σου κόσμε — ok.\n", 30),
		"emoji":         strings.Repeat("ship it 🚀🚀 👍🏽👍🏽 👨\u200d👩\u200d👧 family 🇩🇪🇫🇷 flags ❤️ ok😀.\n", 30),
		"numbers":       "1 12 123 1234 12345 123456 3.14159 1,000,000 ٣٤٥٦ ४५६७ ²³ ½¾ ⅫⅩ 〇一 0x1F 1e10 2026-12-07T11:38:06Z",
		"long word":     strings.Repeat("Supercalifragilistic", 30) + " " + strings.Repeat("x", 700) + " " + strings.Repeat("ab1", 200),
		"whitespace runs": "a" + strings.Repeat(" ", 300) + "b" + strings.Repeat("\t", 40) + "c  \n  d \r\n\r\n e" + strings.Repeat("\n", 50) + "f \u00a0\u00a0g\u3000\u3000h\u2028i \u2029 j" +
			strings.Repeat(" \n", 30) + "k   " + " .\n\n" + "   ...\r\n" + "  " + "l \t\n \t m",
		"punctuation":   strings.Repeat("...!!! ?? --- *** ### ;) :-) (a) [b] {c} <d> \"e\" 'f' «g» “h” —i— …\n\n)\n\n.\r\n", 20),
		"invalid utf8":  "ok \xff\xfe text \xc3 \xe4\xb8 \x80\x80abc" + strings.Repeat("\x8d", 40) + " end\xf0\x9f\x98",
		"control":       "a\x00b\x01c\x1fd\x7fe\u200bf\ufeffg\u00adh",
		"random tricky": random(3000, tricky),
		"random ascii":  random(3000, []rune(" \n\t\r'.,!?aAbBsStT019-_")),
	}
}

// preTokenPattern is cl100k_base's pre-tokenizing expression, as tiktoken-go
// compiles it (with regexp2, a backtracking engine).
const preTokenPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

var preTokenRegexp = regexp2.MustCompile(preTokenPattern, regexp2.None)

// referencePreTokens splits s with the expression, as tiktoken-go does.
func referencePreTokens(s string) []string {
	runes := []rune(s)
	var out []string
	m, err := preTokenRegexp.FindRunesMatch(runes)
	for ; m != nil && err == nil; m, err = preTokenRegexp.FindNextMatch(m) {
		out = append(out, string(runes[m.Index:m.Index+m.Length]))
	}
	if err != nil {
		panic(err)
	}
	return out
}

// checkPreTokens fails unless s splits into the reference's pre-tokens and
// counts the reference's tokens.
func checkPreTokens(t testing.TB, s string) {
	t.Helper()
	if diff := cmp.Diff(referencePreTokens(s), chunk.PreTokens(s)); diff != "" {
		t.Fatalf("pre-tokens of %+q differ (-reference +tokenizer):\n%s", s, diff)
	}
	if got, want := chunk.Tokens(s), chunk.ReferenceTokens(s); got != want {
		t.Fatalf("Tokens(%+q) = %d, reference %d", s, got, want)
	}
}

// TestTokenizerMatchesReference: the tokenizer counts exactly what
// tiktoken-go's encoder counts, on whole texts (Tokens: one call, no
// segments) and through the Counter (segments), for every text of the
// corpus and thousands of short random strings of tricky runes.
func TestTokenizerMatchesReference(t *testing.T) {
	t.Parallel()
	c, err := chunk.NewCounter()
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range corpus() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkPreTokens(t, text)
			ref, err := chunk.NewReference(chunk.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := c.Count(text), ref.Counter().Count(text); got != want {
				t.Errorf("Counter.Count = %d, reference %d", got, want)
			}
		})
	}
	t.Run("random short strings", func(t *testing.T) {
		t.Parallel()
		r := rand.New(rand.NewPCG(3, 4))
		for range 5000 {
			b := make([]rune, 1+r.IntN(24))
			for i := range b {
				b[i] = tricky[r.IntN(len(tricky))]
			}
			s := string(b)
			if r.IntN(8) == 0 { // invalid UTF-8 too
				k := r.IntN(len(s) + 1)
				s = s[:k] + "\xe2" + s[k:]
			}
			checkPreTokens(t, s)
		}
	})
}

// FuzzTokenizer: the tokenizer counts what the reference counts, for any
// text (bounded: the reference is quadratic in a run's length).
func FuzzTokenizer(f *testing.F) {
	for _, text := range corpus() {
		if len(text) > 512 {
			text = text[:512]
		}
		f.Add(text)
	}
	f.Add("'s'S'll 're")
	f.Add(" \u00a0x")
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 512 {
			return
		}
		checkPreTokens(t, s)
	})
}

// FuzzChunkMatchesReference: for any text (as FuzzChunk makes documents of
// it) and size, the chunks are those the reference encoder's counts cut.
func FuzzChunkMatchesReference(f *testing.F) {
	f.Add("#Title\x00body text. More.\x00#Next\x00tail", uint8(32), uint8(8))
	f.Add(prose(400), uint8(0), uint8(0))
	for _, text := range corpus() {
		f.Add(text[:min(len(text), 300)], uint8(16), uint8(4))
	}
	f.Fuzz(func(t *testing.T, data string, maxTok, overlap uint8) {
		if len(data) > 2048 {
			return
		}
		cfg := chunk.Config{MaxTokens: 16 + int(maxTok), OverlapTokens: int(overlap) % ((16 + int(maxTok)) / 2)}
		if cfg.OverlapTokens == 0 {
			cfg.OverlapTokens = chunk.NoOverlap
		}
		compareWithReference(t, cfg, fuzzDoc(data))
	})
}

// TestChunkMatchesReference: chunks (texts, offsets, pages, overlap, token
// counts) are exactly those the chunker cut when it counted with the
// reference encoder, for every kind of text, several sizes, headings, pages
// and continued sections.
func TestChunkMatchesReference(t *testing.T) {
	t.Parallel()
	texts := corpus()
	all := make([]string, 0, len(texts))
	for _, name := range []string{"prose", "code", "json", "markdown", "html", "contractions", "cjk", "mixed scripts", "emoji",
		"numbers", "long word", "whitespace runs", "punctuation", "invalid utf8", "control", "random tricky", "random ascii"} {
		all = append(all, texts[name])
	}
	var book pipeline.Extracted
	for i, text := range all {
		book.Sections = append(book.Sections,
			pipeline.Section{Text: "Part " + string(rune('A'+i)), Heading: true, Page: i + 1},
			pipeline.Section{Text: text, Page: i + 1},
			pipeline.Section{Text: " (continued) " + text[:len(text)/3], Page: i + 1, Cont: true},
			pipeline.Section{Page: i + 1})
	}
	configs := []chunk.Config{
		{},
		{MaxTokens: 16, OverlapTokens: 8},
		{MaxTokens: 37, OverlapTokens: 5},
		{MaxTokens: 128, OverlapTokens: chunk.NoOverlap},
		{MaxTokens: 1000, OverlapTokens: 200},
	}
	for name, text := range texts {
		for _, cfg := range configs {
			t.Run(name+"/"+cfgName(cfg), func(t *testing.T) {
				t.Parallel()
				compareWithReference(t, cfg, secs(text))
			})
		}
	}
	for _, cfg := range configs {
		t.Run("book/"+cfgName(cfg), func(t *testing.T) {
			t.Parallel()
			compareWithReference(t, cfg, book)
		})
	}
}

// compareWithReference chunks doc with the tokenizer and with the reference
// encoder and fails on any difference.
func compareWithReference(t testing.TB, cfg chunk.Config, doc pipeline.Extracted) {
	t.Helper()
	c, err := chunk.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := chunk.NewReference(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Chunk(context.Background(), doc)
	want, wantErr := ref.Chunk(context.Background(), doc)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("err = %v, reference %v", err, wantErr)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("chunks differ from the reference's (-reference +tokenizer):\n%s", diff)
	}
}

func cfgName(cfg chunk.Config) string {
	return fmt.Sprintf("max=%d,overlap=%d", cfg.MaxTokens, cfg.OverlapTokens)
}

// BenchmarkChunkReference is BenchmarkChunk counting with the reference
// encoder: the chunker as it was before its tokenizer. The ratio of the two
// (same run, same machine) is the tokenizer's gain on the whole chunker.
func BenchmarkChunkReference(b *testing.B) {
	c, err := chunk.NewReference(chunk.Config{})
	if err != nil {
		b.Fatal(err)
	}
	doc := secs(prose(1 << 20))
	b.SetBytes(int64(len(doc.Sections[0].Text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Chunk(context.Background(), doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCount counts texts of several kinds (~64 KiB each) with the
// tokenizer and with the reference encoder, through a Counter (segments).
func BenchmarkCount(b *testing.B) {
	texts := corpus()
	for _, name := range []string{"prose", "code", "cjk", "random tricky"} {
		text := texts[name]
		for len(text) < 64<<10 {
			text += "\n\n" + text
		}
		for _, impl := range []string{"tokenizer", "reference"} {
			b.Run(strings.ReplaceAll(name, " ", "_")+"/"+impl, func(b *testing.B) {
				ch, err := chunk.New(chunk.Config{}, nil)
				if impl == "reference" {
					ch, err = chunk.NewReference(chunk.Config{})
				}
				if err != nil {
					b.Fatal(err)
				}
				c := ch.Counter()
				b.SetBytes(int64(len(text)))
				b.ReportAllocs()
				for b.Loop() {
					c.Count(text)
				}
			})
		}
	}
}
