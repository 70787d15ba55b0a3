package pgstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
)

// A document's attributes are stored at claim, replaced by a new version
// that carries attributes, and kept by one that carries none (reindex).
func TestAttributesAreStoredWithTheDocument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := tenantdbtest.TestTx(t)
	f := memFetcher{}
	st := pgstore.New(g, nil)
	p := &pipeline.Processor{Fetcher: f, Extractor: lineExtractor{}, Chunker: lineChunker{}, Embedder: wordEmbedder{}}
	tenant := uuid.New()
	scope := tenantdbtest.Scope(t, tenant)
	s, err := retrieval.New(g, retrieval.Config{})
	if err != nil {
		t.Fatal(err)
	}
	finance := retrieval.Equals("team", "finance")
	count := func() int {
		t.Helper()
		v, _ := wordEmbedder{}.Embed(ctx, []string{"alpha"})
		res, err := s.Search(ctx, scope, retrieval.Request{Vector: v[0], K: 10, Filter: &finance})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Hits)
	}
	for i, step := range []struct {
		body  string
		attrs map[string]any
		want  int
	}{
		{"alpha beta\ngamma", map[string]any{"team": "finance", "year": 2024}, 2},
		{"alpha beta\ngamma\ndelta", nil, 3},                  // new version, no attributes: kept
		{"alpha", map[string]any{"team": "legal"}, 0},         // replaced
		{"alpha\nbeta", map[string]any{"team": "finance"}, 2}, // replaced again
	} {
		f["d1"] = step.body
		d := doc(tenant, "d1", string(rune('A'+i)))
		d.Attributes = step.attrs
		if _, err := p.Ingest(ctx, st.For(scope), d); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != step.want {
			t.Errorf("step %d: %d hits for team=finance, want %d", i, got, step.want)
		}
	}
}
