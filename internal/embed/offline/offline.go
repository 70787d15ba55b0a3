package offline

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tenantry/tenantry/internal/embed"
	"github.com/tenantry/tenantry/pipeline"
)

// Model is the model name stored with every chunk. The vectors of a given
// text and dimension never change under this name.
const Model = "tenantry-hash-v1"

// Feature weights before log scaling: a word counts 1, the pair it forms
// with the previous word 0.5, each of its character trigrams (with a space
// at each end) 0.25.
const (
	weightWord    = 1.0
	weightBigram  = 0.5
	weightTrigram = 0.25
)

// Config configures the embedder.
type Config struct {
	// Dims is the vector dimension (default 1024; must match the schema).
	Dims int
}

// Embedder is the offline embedder. It is safe for concurrent use.
type Embedder struct{ dims int }

var (
	_ pipeline.Embedder = (*Embedder)(nil)
	_ embed.Provider    = (*Embedder)(nil)
)

// New returns an embedder.
func New(cfg Config) (*Embedder, error) {
	if cfg.Dims == 0 {
		cfg.Dims = 1024
	}
	if cfg.Dims < 8 || cfg.Dims > 16000 {
		return nil, errors.New("offline: Dims must be in 8..16000")
	}
	return &Embedder{dims: cfg.Dims}, nil
}

// Model returns the model name.
func (e *Embedder) Model() string { return Model }

// Dimensions returns the vector dimension.
func (e *Embedder) Dimensions() int { return e.dims }

// Limits lets embed.New batch freely (nothing is sent anywhere).
func (e *Embedder) Limits() embed.Limits { return embed.Limits{MaxInputs: 4096} }

// EmbedBatch is Embed (embed.Provider).
func (e *Embedder) EmbedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	return e.Embed(ctx, texts)
}

// Embed returns one L2-normalised vector per text. An empty text (or one of
// stop words only) gets a fixed unit vector, never the zero vector.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = e.vector(s, t)
	}
	return out, nil
}

// stopwords are frequent English function words: without document
// frequencies to down-weight them, they would dominate short queries.
var stopwords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, w := range strings.Fields(`a an and are as at be but by do does for from has have how i if in is it its
		of on or our so than that the their them there these they this to was we were what when where which who
		why will with you your can may must not no yes all any each`) {
		m[w] = struct{}{}
	}
	return m
}()

// scratch is reused between texts to keep allocation per text constant.
type scratch struct {
	feats []feature
	words []string
	pad   []byte
	runes []int
	v     []float64
	// The features grouped by bucket: start[b] is bucket b's first.
	start, next []int
	byBucket    []feature
}

// feature is one occurrence of a hashed feature with its weight.
type feature struct {
	h uint64
	w float64
}

var scratchPool = sync.Pool{New: func() any { return &scratch{} }}

// FNV-1a, 64 bit, computed inline (no allocation per feature).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvBytes(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	return h * fnvPrime
}

func (e *Embedder) vector(s *scratch, text string) []float32 {
	s.feats = s.feats[:0]
	// Words: maximal runs of letters and digits, lower-cased, stop words
	// dropped.
	lower := strings.ToLower(text)
	s.words = s.words[:0]
	start := -1
	for i, r := range lower {
		word := unicode.IsLetter(r) || unicode.IsDigit(r)
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			s.addWord(lower[start:i])
			start = -1
		}
	}
	if start >= 0 {
		s.addWord(lower[start:])
	}
	for i, w := range s.words {
		s.feats = append(s.feats, feature{fnvBytes(fnvByte(fnvOffset, 'w'), w), weightWord})
		if i > 0 {
			h := fnvBytes(fnvByte(fnvOffset, 'b'), s.words[i-1])
			h = fnvByte(h, ' ')
			s.feats = append(s.feats, feature{fnvBytes(h, w), weightBigram})
		}
		// Character trigrams of " word ".
		s.pad = append(append(append(s.pad[:0], ' '), w...), ' ')
		s.runes = s.runes[:0]
		for j := 0; j < len(s.pad); {
			s.runes = append(s.runes, j)
			_, size := utf8.DecodeRune(s.pad[j:])
			j += size
		}
		s.runes = append(s.runes, len(s.pad))
		for j := 0; j+3 < len(s.runes); j++ {
			h := fnvByte(fnvOffset, 'c')
			for _, b := range s.pad[s.runes[j]:s.runes[j+3]] {
				h = fnvByte(h, b)
			}
			s.feats = append(s.feats, feature{h, weightTrigram})
		}
	}
	if cap(s.v) < e.dims {
		s.v = make([]float64, e.dims)
	}
	v := s.v[:e.dims]
	clear(v)
	// Sum each feature's weights (its term frequency), then add
	// sign(h)*(1+ln(1+tf)) to bucket h mod dims, in hash order within each
	// bucket so the float sums are the same on every run. Buckets are
	// independent, so the features are grouped by bucket (a counting sort)
	// and only each bucket's few features are sorted by hash: the same sums,
	// in the same order, as sorting every feature by hash.
	dims := uint64(e.dims)
	if cap(s.start) < e.dims+1 {
		s.start = make([]int, e.dims+1)
	}
	bstart := s.start[:e.dims+1]
	clear(bstart)
	for _, f := range s.feats {
		bstart[f.h%dims+1]++
	}
	for b := 1; b <= e.dims; b++ {
		bstart[b] += bstart[b-1]
	}
	if cap(s.byBucket) < len(s.feats) {
		s.byBucket = make([]feature, len(s.feats))
	}
	sorted := s.byBucket[:len(s.feats)]
	s.next = append(s.next[:0], bstart[:e.dims]...)
	for _, f := range s.feats {
		b := f.h % dims
		sorted[s.next[b]] = f
		s.next[b]++
	}
	for b := range e.dims {
		seg := sorted[bstart[b]:bstart[b+1]]
		if len(seg) > 16 { // few dimensions, or one feature repeated
			slices.SortStableFunc(seg, func(a, b feature) int { return cmp.Compare(a.h, b.h) })
		} else {
			for i := 1; i < len(seg); i++ { // insertion sort: a bucket holds a few features
				for j := i; j > 0 && seg[j].h < seg[j-1].h; j-- {
					seg[j], seg[j-1] = seg[j-1], seg[j]
				}
			}
		}
		for i := 0; i < len(seg); {
			h, tf := seg[i].h, 0.0
			for ; i < len(seg) && seg[i].h == h; i++ {
				tf += seg[i].w
			}
			sign := 1.0
			if h>>63 == 1 {
				sign = -1
			}
			v[b] += sign * (1 + math.Log(tf+1))
		}
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, e.dims)
	if norm == 0 {
		out[0] = 1
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

func (s *scratch) addWord(w string) {
	if _, stop := stopwords[w]; !stop {
		s.words = append(s.words, w)
	}
}
