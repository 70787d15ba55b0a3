package pipeline_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tenantry/tenantry/pipeline"
)

// countsEmbedder records the token counts each call carried.
type countsEmbedder struct {
	got  [][]int
	drop bool // answer one vector short
}

func (e *countsEmbedder) Model() string   { return "counts" }
func (e *countsEmbedder) Dimensions() int { return 1 }
func (e *countsEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	counts, _ := pipeline.TokenCounts(ctx, len(texts))
	e.got = append(e.got, counts)
	if e.drop {
		texts = texts[1:]
	}
	return make([][]float32, len(texts)), nil
}

// EmbedChunks hands the embedder the chunker's counts with the texts, so
// nothing downstream estimates or counts them again; a chunk whose count is
// unknown (0) makes the call carry none.
func TestEmbedChunksCarriesTokenCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []pipeline.Chunk
		want   []int
	}{
		{"counted", []pipeline.Chunk{{Text: "alpha beta", TokenCount: 2}, {Text: "gamma", TokenCount: 1}}, []int{2, 1}},
		{"one unknown", []pipeline.Chunk{{Text: "alpha beta", TokenCount: 2}, {Text: "gamma"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &countsEmbedder{}
			vecs, err := pipeline.EmbedChunks(context.Background(), e, tt.chunks)
			if err != nil || len(vecs) != len(tt.chunks) {
				t.Fatalf("EmbedChunks = %d vectors, %v", len(vecs), err)
			}
			if len(e.got) != 1 || !slices.Equal(e.got[0], tt.want) {
				t.Fatalf("counts carried %v, want %v", e.got, tt.want)
			}
		})
	}
	t.Run("a vector missing", func(t *testing.T) {
		t.Parallel()
		if _, err := pipeline.EmbedChunks(context.Background(), &countsEmbedder{drop: true}, []pipeline.Chunk{{Text: "a"}, {Text: "b"}}); err == nil {
			t.Fatal("one vector for two chunks accepted")
		}
	})
	t.Run("another number of texts", func(t *testing.T) {
		t.Parallel()
		ctx := pipeline.WithTokenCounts(context.Background(), []int{3, 4})
		if counts, ok := pipeline.TokenCounts(ctx, 3); ok {
			t.Fatalf("counts for 2 texts given for 3: %v", counts)
		}
	})
}
