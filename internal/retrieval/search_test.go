package retrieval_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/retrieval/retrievaltest"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

type key struct {
	doc string
	ord int
}

// bruteForce is the ground truth: the k nearest of rows by cosine distance.
func bruteForce(rows []retrievaltest.Row, q []float32, k int, bucketZero bool) []key {
	type cand struct {
		key
		d float64
	}
	var cs []cand
	for _, r := range rows {
		if bucketZero && r.Bucket != 0 {
			continue
		}
		var dot, na, nb float64
		for i := range q {
			dot += float64(q[i]) * float64(r.Vector[i])
			na += float64(q[i]) * float64(q[i])
			nb += float64(r.Vector[i]) * float64(r.Vector[i])
		}
		cs = append(cs, cand{key{r.DocumentID, r.Ordinal}, 1 - dot/math.Sqrt(na*nb)})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	out := []key{}
	for i := 0; i < k && i < len(cs); i++ {
		out = append(out, cs[i].key)
	}
	return out
}

func keys(hits []retrieval.Hit) []key {
	out := make([]key, len(hits))
	for i, h := range hits {
		out[i] = key{h.DocumentID, h.Ordinal}
	}
	return out
}

func recall(got, want []key) float64 {
	if len(want) == 0 {
		return 1
	}
	n := 0
	for _, w := range want {
		if slices.Contains(got, w) {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

// TestSearch runs against one skewed dataset (2,700 / 297 / 3 / 10 rows,
// vectors clustered around centres every tenant shares).
func TestSearch(t *testing.T) {
	t.Parallel()
	db := tenantdbtest.NewDatabase(t)
	ds := retrievaltest.Load(t, db, retrievaltest.Spec{Rows: retrievaltest.Skewed(3000), Seed: 7, Queries: 5, KeepRows: true})
	gw := db.Open(t)
	filter, err := retrieval.ParseFilter([]byte(retrievaltest.RareFilter))
	if err != nil {
		t.Fatal(err)
	}
	newSearcher := func(t *testing.T, cfg retrieval.Config) *retrieval.Searcher {
		cfg.Dims = tenantdbtest.Dims
		s, err := retrieval.New(gw, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()

	// Every tenant, every plan, with and without the filter: the rows are
	// the tenant's own, as many as it has (up to k), exact where exact.
	t.Run("per tenant", func(t *testing.T) {
		t.Parallel()
		s := newSearcher(t, retrieval.Config{ExactThreshold: 1000})
		for _, tn := range ds.Tenants {
			for _, plan := range []retrieval.Plan{"", retrieval.PlanExact, retrieval.PlanHNSW} {
				for _, filtered := range []bool{false, true} {
					for qi, q := range tn.Queries {
						req := retrieval.Request{Vector: q, K: 10, Plan: plan}
						if filtered {
							req.Filter = filter
						}
						res, err := s.Search(ctx, tenantdbtest.Scope(t, tn.ID), req)
						if err != nil {
							t.Fatal(err)
						}
						want := bruteForce(tn.Rows, q, 10, filtered)
						if len(res.Hits) != len(want) {
							t.Fatalf("tenant of %d rows, plan %q->%s, filter %v, query %d: %d hits, want %d",
								tn.Count, plan, res.Plan, filtered, qi, len(res.Hits), len(want))
						}
						for _, h := range res.Hits {
							if !strings.Contains(h.SourceURI, tn.ID.String()) {
								t.Fatalf("hit %s of another tenant", h.SourceURI)
							}
							if filtered && h.Attributes["bucket"] != float64(0) {
								t.Fatalf("hit outside the filter: %v", h.Attributes)
							}
						}
						if res.Plan == retrieval.PlanExact && recall(keys(res.Hits), want) != 1 {
							t.Errorf("tenant of %d rows, exact plan, query %d: recall %.2f, want 1", tn.Count, qi, recall(keys(res.Hits), want))
						}
						if plan == "" && tn.Count <= 1000 && res.Plan != retrieval.PlanExact {
							t.Errorf("tenant of %d rows chose plan %s, want exact", tn.Count, res.Plan)
						}
						if plan == "" && !filtered && tn.Count > 1000 && res.Plan != retrieval.PlanHNSW {
							t.Errorf("tenant of %d rows chose plan %s, want hnsw", tn.Count, res.Plan)
						}
						for i := 1; i < len(res.Hits); i++ {
							if res.Hits[i].Distance < res.Hits[i-1].Distance {
								t.Fatalf("hits not sorted by distance")
							}
						}
					}
				}
			}
		}
	})

	// The plan shapes: the tenant is a predicate the planner sees (a literal
	// in the custom plan, on the chunk scan), a large tenant walks the HNSW
	// index, a small one or a selective filter never does.
	t.Run("plans", func(t *testing.T) {
		t.Parallel()
		s := newSearcher(t, retrieval.Config{ExactThreshold: 1000})
		for _, tc := range []struct {
			tenant   int
			filtered bool
			plan     retrieval.Plan
			index    string
		}{
			{0, false, retrieval.PlanHNSW, "chunks_embedding_hnsw"},
			{0, true, retrieval.PlanExact, "chunks_pkey"},
			{1, false, retrieval.PlanExact, "chunks_pkey"},
			{3, false, retrieval.PlanExact, "chunks_pkey"},
		} {
			tn := ds.Tenants[tc.tenant]
			req := retrieval.Request{Vector: tn.Queries[0], K: 10}
			if tc.filtered {
				req.Filter = filter
			}
			plan, text, err := s.Explain(ctx, tenantdbtest.Scope(t, tn.ID), req)
			if err != nil {
				t.Fatal(err)
			}
			if plan != tc.plan || !strings.Contains(text, tc.index) {
				t.Errorf("tenant of %d rows, filtered %v: plan %s, want %s using %s:\n%s", tn.Count, tc.filtered, plan, tc.plan, tc.index, text)
			}
			if tc.plan == retrieval.PlanExact && strings.Contains(text, "hnsw") {
				t.Errorf("exact plan uses the HNSW index:\n%s", text)
			}
			// A filtered exact search names the count's documents (by key
			// on a large table; this small one is scanned, the key test
			// first), so the filter is not evaluated on every document again.
			if tc.filtered && tc.plan == retrieval.PlanExact && !strings.Contains(text, "document_id = ANY") {
				t.Errorf("filtered exact plan does not name the matching documents:\n%s", text)
			}
			if !strings.Contains(text, "tenant_id = '"+tn.ID.String()+"'::uuid") {
				t.Errorf("the tenant is not an explicit predicate of the plan:\n%s", text)
			}
		}
	})

	// Repeated searches on one connection are planned for their tenant every
	// time, never from a generic plan cached for "some tenant".
	t.Run("no generic plans", func(t *testing.T) {
		t.Parallel()
		one, err := tenantdb.Open(ctx, tenantdb.Config{URL: db.WorkerURL, MaxConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(one.Close)
		s, err := retrieval.New(one, retrieval.Config{ExactThreshold: 1000, Dims: tenantdbtest.Dims})
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			for _, tn := range ds.Tenants {
				for _, f := range []*retrieval.Filter{nil, filter} {
					if _, err := s.Search(ctx, tenantdbtest.Scope(t, tn.ID), retrieval.Request{Vector: tn.Queries[0], K: 10, Filter: f}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		var generic int64
		if err := one.WithTenant(ctx, tenantdbtest.Scope(t, ds.Tenants[0].ID), func(ctx context.Context, tx tenantdb.Tx) error {
			return tx.QueryRow(ctx, "SELECT coalesce(sum(generic_plans), 0) FROM pg_prepared_statements WHERE (statement LIKE '%FROM documents%' OR statement LIKE '%FROM chunks%') AND statement NOT LIKE '%pg_prepared_statements%'").Scan(&generic)
		}); err != nil {
			t.Fatal(err)
		}
		if generic != 0 {
			t.Errorf("%d executions used a generic plan", generic)
		}
	})

	// An HNSW scan that runs out of budget before it found k of the
	// tenant's rows is repeated exact: never fewer than k rows.
	t.Run("short HNSW scan falls back to exact", func(t *testing.T) {
		t.Parallel()
		s := newSearcher(t, retrieval.Config{MaxScanTuples: 5, EFSearch: 10})
		for _, tn := range ds.Tenants[1:] {
			res, err := s.Search(ctx, tenantdbtest.Scope(t, tn.ID), retrieval.Request{Vector: tn.Queries[0], K: 10, Plan: retrieval.PlanHNSW})
			if err != nil {
				t.Fatal(err)
			}
			want := min(10, tn.Count)
			if len(res.Hits) != want {
				t.Errorf("tenant of %d rows: %d hits (plan %s), want %d", tn.Count, len(res.Hits), res.Plan, want)
			}
		}
	})

	// The plan count stops after enough documents: a lower bound, still
	// enough to choose HNSW and to know k rows exist.
	t.Run("bounded count", func(t *testing.T) {
		t.Parallel()
		s := newSearcher(t, retrieval.Config{ExactThreshold: 100, MaxK: 10})
		tn := ds.Tenants[0]
		res, err := s.Search(ctx, tenantdbtest.Scope(t, tn.ID), retrieval.Request{Vector: tn.Queries[0], K: 10})
		if err != nil {
			t.Fatal(err)
		}
		if !res.MatchingAtLeast || res.Matching <= 100 || res.Matching >= int64(tn.Count) || res.Plan != retrieval.PlanHNSW || len(res.Hits) != 10 {
			t.Errorf("matching %d (at least %v), plan %s, %d hits", res.Matching, res.MatchingAtLeast, res.Plan, len(res.Hits))
		}
	})

	t.Run("k larger than the tenant", func(t *testing.T) {
		t.Parallel()
		s := newSearcher(t, retrieval.Config{})
		tn := ds.Tenants[3]
		res, err := s.Search(ctx, tenantdbtest.Scope(t, tn.ID), retrieval.Request{Vector: tn.Queries[0], K: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hits) != tn.Count || res.Matching != int64(tn.Count) {
			t.Errorf("%d hits, matching %d; want %d", len(res.Hits), res.Matching, tn.Count)
		}
	})

	t.Run("a tenant with no rows", func(t *testing.T) {
		t.Parallel()
		s := newSearcher(t, retrieval.Config{})
		res, err := s.Search(ctx, tenantdbtest.Scope(t, tenantdbtest.NewTenant()), retrieval.Request{Vector: ds.Tenants[0].Queries[0], K: 10})
		if err != nil || res.Hits == nil || len(res.Hits) != 0 {
			t.Fatalf("hits %v, err %v; want an empty list", res.Hits, err)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		t.Parallel()
		s := newSearcher(t, retrieval.Config{})
		q := ds.Tenants[0].Queries[0]
		for name, req := range map[string]retrieval.Request{
			"k zero":         {Vector: q},
			"k too large":    {Vector: q, K: 101},
			"no vector":      {K: 1},
			"wrong dims":     {Vector: q[:10], K: 1},
			"unknown mode":   {Vector: q, K: 1, Mode: "magic"},
			"hybrid no text": {Vector: q, K: 1, Mode: retrieval.ModeHybrid},
			"bad language":   {Vector: q, K: 1, Mode: retrieval.ModeHybrid, Text: "x", Language: "english'); DROP TABLE chunks; --"},
			"unknown plan":   {Vector: q, K: 1, Plan: "seq"},
			"invalid filter": {Vector: q, K: 1, Filter: &retrieval.Filter{Op: retrieval.OpIn, Key: "a", Value: []any{}}},
		} {
			if _, err := s.Search(ctx, tenantdbtest.Scope(t, ds.Tenants[0].ID), req); !errors.Is(err, retrieval.ErrBadRequest) {
				t.Errorf("%s: err %v, want ErrBadRequest", name, err)
			}
		}
	})

	t.Run("hybrid", func(t *testing.T) {
		t.Parallel()
		s := newSearcher(t, retrieval.Config{})
		tn := ds.Tenants[1]
		for _, lang := range []string{"english", "simple"} {
			res, err := s.Search(ctx, tenantdbtest.Scope(t, tn.ID), retrieval.Request{
				Vector: tn.Queries[0], Text: tn.QueryTexts[0], K: 10, Mode: retrieval.ModeHybrid, Language: lang})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Hits) != 10 {
				t.Fatalf("%s: %d hits", lang, len(res.Hits))
			}
			text := 0
			for i, h := range res.Hits {
				if h.VectorRank == 0 && h.TextRank == 0 {
					t.Errorf("%s: hit %d has no rank", lang, i)
				}
				if h.TextRank > 0 {
					text++
				}
				if !strings.Contains(h.SourceURI, tn.ID.String()) {
					t.Fatalf("hit %s of another tenant", h.SourceURI)
				}
			}
			if text == 0 {
				t.Errorf("%s: no hit matched the text", lang)
			}
		}
	})
}

func TestEFScalesWithTheTenantsShare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base        int
		total, rows float64
		want        int
	}{
		{200, 100000, 100000, 200},
		{200, 100000, 90000, 210},
		{200, 100000, 10000, 400},
		{200, 100000, 1000, 600},
		{200, 100000, 1, 1000},
		{200, 0, 10, 200},  // never analysed
		{200, -1, 10, 200}, // PostgreSQL 14+: -1 before the first ANALYZE
		{2000, 100, 100, 1000},
	} {
		if got := retrieval.EFFor(tc.base, tc.total, tc.rows); got != tc.want {
			t.Errorf("efFor(%d, %v, %v) = %d, want %d", tc.base, tc.total, tc.rows, got, tc.want)
		}
	}
}
