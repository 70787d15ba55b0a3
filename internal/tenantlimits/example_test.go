package tenantlimits_test

import (
	"context"
	"fmt"

	"github.com/tenantry/tenantry/internal/tenantlimits"
	"github.com/tenantry/tenantry/pipeline"
)

type wordEmbedder struct{}

func (wordEmbedder) Model() string   { return "words" }
func (wordEmbedder) Dimensions() int { return 1 }
func (wordEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t))}
	}
	return out, nil
}

var _ pipeline.Embedder = wordEmbedder{}

// The worker wraps its embedder in a Budget; the dispatcher puts each
// tenant's stored limits into the context of that tenant's work, so a
// tenant over its requests or tokens per minute waits and others do not.
func ExampleBudget() {
	b := tenantlimits.NewBudget(wordEmbedder{})
	ctx := tenantlimits.WithLimits(context.Background(), "tenant-a",
		tenantlimits.Limits{Weight: 1, RequestsPerMinute: 600, TokensPerMinute: 100000})
	v, err := b.Embed(ctx, []string{"warranty terms"})
	fmt.Println(v, err)
	// Output: [[14]] <nil>
}
