package offline_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/tenantry/tenantry/internal/embed"
	"github.com/tenantry/tenantry/internal/embed/offline"
)

func cos(a, b []float32) float64 {
	var d float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
	}
	return d
}

func newEmbedder(t testing.TB, dims int) *offline.Embedder {
	t.Helper()
	e, err := offline.New(offline.Config{Dims: dims})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestOfflineEmbedder(t *testing.T) {
	t.Parallel()
	e := newEmbedder(t, 256)
	v, err := e.Embed(context.Background(), []string{
		"The warranty lasts 36 months.", "The warranty lasts 36 months.", "How long is the warranty?", "Forklift safety course", "", "the and of",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range v {
		if len(x) != 256 {
			t.Fatalf("vector %d has %d dims", i, len(x))
		}
		var n float64
		for _, f := range x {
			n += float64(f) * float64(f)
		}
		if math.Abs(n-1) > 1e-5 {
			t.Errorf("vector %d has norm² %f, want 1", i, n)
		}
	}
	if cos(v[0], v[1]) < 0.9999 {
		t.Error("not deterministic")
	}
	if cos(v[2], v[0]) <= cos(v[2], v[3]) {
		t.Errorf("lexical overlap does not rank higher: %f vs %f", cos(v[2], v[0]), cos(v[2], v[3]))
	}
	if cos(v[4], v[5]) < 0.9999 {
		t.Error("empty and stop-word-only texts should share the fixed unit vector")
	}
}

// TestLexicalNotSemantic documents what the embedder is not: synonyms do
// not match, shared words and stems do.
func TestLexicalNotSemantic(t *testing.T) {
	t.Parallel()
	e := newEmbedder(t, 1024)
	v, _ := e.Embed(context.Background(), []string{"car", "automobile", "cars", "car"})
	if s := cos(v[0], v[1]); s > 0.3 {
		t.Errorf("synonyms scored %f: the offline embedder is lexical, it should not match them", s)
	}
	if cos(v[0], v[2]) <= cos(v[0], v[1]) {
		t.Error("a shared stem (trigrams) should score above a synonym")
	}
}

func TestConfigRejects(t *testing.T) {
	t.Parallel()
	for _, d := range []int{2, -1, 16001} {
		if _, err := offline.New(offline.Config{Dims: d}); err == nil {
			t.Errorf("accepted %d dimensions", d)
		}
	}
}

func TestCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newEmbedder(t, 64).Embed(ctx, []string{"x"}); err == nil {
		t.Fatal("no error for a cancelled context")
	}
}

// TestGolden pins the vectors of Model: a change here needs a new Model
// name, or stored vectors stop matching new query vectors.
func TestGolden(t *testing.T) {
	t.Parallel()
	e := newEmbedder(t, 1024)
	v, _ := e.Embed(context.Background(), []string{"Tenants upload documents; the worker embeds their chunks. Grüße, 世界!"})
	h := sha256.New()
	for _, x := range v[0] {
		_ = binary.Write(h, binary.LittleEndian, math.Float32bits(x))
	}
	const want = "84ae358f3d38b41a"
	if got := hex.EncodeToString(h.Sum(nil))[:16]; got != want {
		t.Fatalf("vector digest %s, want %s", got, want)
	}
}

// TestGoldenLong pins the vectors of a long text (many features per
// bucket, one feature repeated 300 times) at 1024 and at 8 dimensions (every
// bucket crowded): the sums per bucket must stay bit for bit those of
// adding each bucket's features in hash order.
func TestGoldenLong(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Tenants upload documents; the worker embeds their chunks, chunk after chunk. Grüße, 世界! ", 40) +
		strings.Repeat("x ", 300)
	for _, tc := range []struct {
		dims int
		want string
	}{{8, "142d56468195beea"}, {1024, "8e28435ae8de1bf6"}} {
		v, _ := newEmbedder(t, tc.dims).Embed(context.Background(), []string{long})
		h := sha256.New()
		for _, x := range v[0] {
			_ = binary.Write(h, binary.LittleEndian, math.Float32bits(x))
		}
		if got := hex.EncodeToString(h.Sum(nil))[:16]; got != tc.want {
			t.Errorf("dims %d: vector digest %s, want %s", tc.dims, got, tc.want)
		}
	}
}

// TestMatchesReference compares with the straightforward implementation
// (map of features, fnv.New64a per feature).
func TestMatchesReference(t *testing.T) {
	t.Parallel()
	e := newEmbedder(t, 512)
	texts := []string{"", "Hello, World", "naïve café déjà vu 2024-11-23", strings.Repeat("tenant document chunk ", 50), "ÄÖÜ straße İstanbul 東京"}
	got, _ := e.Embed(context.Background(), texts)
	for i, text := range texts {
		want := reference(text, 512)
		for k := range want {
			if math.Abs(float64(got[i][k]-want[k])) > 1e-6 {
				t.Fatalf("text %d, dim %d: %v, reference %v", i, k, got[i][k], want[k])
			}
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	e := newEmbedder(t, 128)
	want, _ := e.Embed(context.Background(), []string{"same text every time"})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got, _ := e.Embed(context.Background(), []string{"other", "same text every time"})
				if cos(got[1], want[0]) < 0.99999 {
					t.Error("differs under concurrency")
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestThroughEmbed runs the offline provider behind embed.New.
func TestThroughEmbed(t *testing.T) {
	t.Parallel()
	p := newEmbedder(t, 64)
	e, err := embed.New(p, embed.Config{MaxInputs: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"a1", "b2", "c3", "d4", "e5", "f6", "g7"}
	got, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := p.Embed(context.Background(), texts)
	for i := range want {
		if cos(got[i], want[i]) < 0.99999 {
			t.Fatalf("text %d out of order", i)
		}
	}
	if e.Model() != offline.Model || e.Dimensions() != 64 {
		t.Fatalf("model %q dims %d", e.Model(), e.Dimensions())
	}
}

func reference(text string, dims int) []float32 {
	stop := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be but by do does for from has have how i if in is it its
		of on or our so than that the their them there these they this to was we were what when where which who
		why will with you your can may must not no yes all any each`) {
		stop[w] = true
	}
	counts := map[uint64]float64{}
	add := func(kind byte, s string, w float64) {
		h := fnv.New64a()
		h.Write([]byte{kind})
		h.Write([]byte(s))
		counts[h.Sum64()] += w
	}
	var words []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if !stop[w] {
			words = append(words, w)
		}
	}
	for i, w := range words {
		add('w', w, 1)
		if i > 0 {
			add('b', words[i-1]+" "+w, 0.5)
		}
		r := []rune(" " + w + " ")
		for j := 0; j+3 <= len(r); j++ {
			add('c', string(r[j:j+3]), 0.25)
		}
	}
	v := make([]float64, dims)
	for h, c := range counts {
		sign := 1.0
		if h>>63 == 1 {
			sign = -1
		}
		v[h%uint64(dims)] += sign * (1 + math.Log(c+1))
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, dims)
	if norm == 0 {
		out[0] = 1
		return out
	}
	for i, x := range v {
		out[i] = float32(x / math.Sqrt(norm))
	}
	return out
}

func ExampleNew() {
	e, _ := offline.New(offline.Config{Dims: 1024})
	v, _ := e.Embed(context.Background(), []string{"hello world"})
	fmt.Println(e.Model(), len(v[0]))
	// Output: tenantry-hash-v1 1024
}

// BenchmarkEmbed embeds chunk-sized texts (~2 KB, about 512 tokens) and
// reports texts/s.
func BenchmarkEmbed(b *testing.B) {
	e := newEmbedder(b, 1024)
	base := "Acme's core hours are 10:00 to 16:00 in each office's time zone. Outside core hours, engineers choose when they work. "
	text := strings.Repeat(base, 2048/len(base)+1)[:2048]
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = fmt.Sprintf("%d %s", i, text)
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if _, err := e.Embed(context.Background(), texts); err != nil {
			b.Fatal(err)
		}
		n += len(texts)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "texts/s")
}
