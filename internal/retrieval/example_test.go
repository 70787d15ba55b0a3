package retrieval_test

import (
	"context"
	"fmt"

	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// A search in a verified tenant scope with a metadata filter and hybrid
// ranking. db is the tenant gateway; scope comes from a verified envelope or
// OIDC token (binding.Search); vec is the query's embedding.
func ExampleSearcher_Search() {
	var (
		db    *tenantdb.DB
		scope tenantdb.Scope
		vec   []float32
	)
	s, err := retrieval.New(db, retrieval.Config{ExactThreshold: 1000, EFSearch: 100})
	if err != nil {
		return
	}
	filter := retrieval.AndAll(retrieval.Equals("team", "finance"), retrieval.In("year", 2024, 2025))
	res, err := s.Search(context.Background(), scope, retrieval.Request{
		Vector: vec, Text: "warranty period", K: 5, Filter: &filter, Mode: retrieval.ModeHybrid,
	})
	if err != nil {
		return
	}
	for _, h := range res.Hits {
		fmt.Println(h.DocumentID, h.Ordinal, h.Score, h.Attributes["team"])
	}
}
