package retrieval_test

import (
	"context"
	"encoding/json"
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

// Attributes from S3 tags and user metadata named tenantry-attr-<key>, and
// the Bedrock-shaped sidecar, which wins; other tags and metadata belong to
// other tools.
func ExampleDocumentAttributes() {
	meta := map[string]string{"tenantry-attr-team": "finance", "mtime": "1700000000"}
	tags := map[string]string{"tenantry-attr-region": "eu", "tenantry-attr-team": "legal", "backup": "daily"}
	sidecar := []byte(`{"metadataAttributes": {"year": 2024}}`)
	attrs, err := retrieval.DocumentAttributes(meta, tags, sidecar)
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(attrs)
	fmt.Println(string(b))
	// Output: {"region":"eu","team":"finance","year":2024}
}
