package pipeline

import (
	"context"
	"fmt"
)

// tokenCountsKey carries the token counts of one Embed call's texts.
type tokenCountsKey struct{}

// WithTokenCounts returns ctx carrying counts[i], the token count of the
// i-th text of the Embed call made with it, as the Chunker counted it
// (Chunk.TokenCount): what the embedder and its wrappers (tenant budgets,
// request batching, usage and metrics) use instead of estimating or
// counting the text again. Counts of zero or less mean unknown: ctx is
// returned as it is.
func WithTokenCounts(ctx context.Context, counts []int) context.Context {
	for _, n := range counts {
		if n <= 0 {
			return ctx
		}
	}
	return context.WithValue(ctx, tokenCountsKey{}, counts)
}

// TokenCounts returns the token counts ctx carries for an Embed call of n
// texts, and false when it carries none or counts for another number of
// texts (a wrapper that embeds a part of the call must not use them).
func TokenCounts(ctx context.Context, n int) ([]int, bool) {
	counts, ok := ctx.Value(tokenCountsKey{}).([]int)
	if !ok || len(counts) != n {
		return nil, false
	}
	return counts, true
}

// EmbedChunks embeds the chunks' texts with e in one call that carries their
// token counts (WithTokenCounts) and checks that one vector came back per
// chunk.
func EmbedChunks(ctx context.Context, e Embedder, chunks []Chunk) ([][]float32, error) {
	texts := make([]string, len(chunks))
	counts := make([]int, len(chunks))
	for i, c := range chunks {
		texts[i], counts[i] = c.Text, c.TokenCount
	}
	vecs, err := e.Embed(WithTokenCounts(ctx, counts), texts)
	if err == nil && len(vecs) != len(texts) {
		err = fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts))
	}
	if err != nil {
		return nil, err
	}
	return vecs, nil
}
