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

// SetAttributes changes only the ready document of the given source, in the
// caller's tenant: another tenant's scope, another source, a failed or a
// missing document are left as they are; a repeat is Unchanged.
func TestSetAttributes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := tenantdbtest.TestTx(t)
	f := memFetcher{"d1": "alpha beta"}
	st := pgstore.New(g, nil)
	p := &pipeline.Processor{Fetcher: f, Extractor: lineExtractor{}, Chunker: lineChunker{}, Embedder: wordEmbedder{}}
	a, b := uuid.New(), uuid.New()
	d := doc(a, "d1", "A")
	if _, err := p.Ingest(ctx, st.For(tenantdbtest.Scope(t, a)), d); err != nil {
		t.Fatal(err)
	}
	team := map[string]any{"team": "finance"}
	for _, tc := range []struct {
		name   string
		tenant uuid.UUID
		source string
		attrs  map[string]any
		want   pgstore.AttributesOutcome
	}{
		{"set", a, d.SourceURI, team, pgstore.AttributesSet},
		{"again", a, d.SourceURI, team, pgstore.AttributesUnchanged},
		{"other tenant's scope", b, d.SourceURI, map[string]any{"team": "attacker"}, pgstore.AttributesNoDocument},
		{"other source", a, d.SourceURI + "x", map[string]any{"team": "other"}, pgstore.AttributesNoDocument},
		{"cleared", a, d.SourceURI, nil, pgstore.AttributesSet},
	} {
		got, err := st.For(tenantdbtest.Scope(t, tc.tenant)).SetAttributes(ctx, "d1", tc.source, tc.attrs)
		if err != nil || got != tc.want {
			t.Fatalf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := st.For(tenantdbtest.Scope(t, a)).SetAttributes(ctx, "missing", d.SourceURI, team); err != nil {
		t.Fatal(err)
	}
}
