package retrieval_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/retrieval/retrievaltest"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// BenchmarkSearch: one search call per tenant size and plan on a small
// skewed dataset (20,000 chunks), plus the unfiltered-by-filter 1% case. The
// recall/latency report on 100,000 chunks is TestSearchRecall in
// internal/bench (make bench).
func BenchmarkSearch(b *testing.B) {
	db := tenantdbtest.NewDatabase(b)
	ds := retrievaltest.Load(b, db, retrievaltest.Spec{Rows: retrievaltest.Skewed(20000), Seed: 11, Queries: 16})
	s, err := retrieval.New(db.Open(b), retrieval.Config{Dims: tenantdbtest.Dims})
	if err != nil {
		b.Fatal(err)
	}
	filter, _ := retrieval.ParseFilter([]byte(retrievaltest.RareFilter))
	ctx := context.Background()
	for _, tn := range ds.Tenants {
		for _, tc := range []struct {
			name string
			req  retrieval.Request
		}{
			{"auto", retrieval.Request{K: 10}},
			{"exact", retrieval.Request{K: 10, Plan: retrieval.PlanExact}},
			{"hnsw", retrieval.Request{K: 10, Plan: retrieval.PlanHNSW}},
			{"filter1pct", retrieval.Request{K: 10, Filter: filter}},
		} {
			b.Run(tc.name+"/rows="+itoa(tn.Count), func(b *testing.B) {
				scope := tenantdbtest.Scope(b, tn.ID)
				i := 0
				for b.Loop() {
					req := tc.req
					req.Vector = tn.Queries[i%len(tn.Queries)]
					i++
					if _, err := s.Search(ctx, scope, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
