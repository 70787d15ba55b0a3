package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// SearchCmd runs a tenant-scoped cosine KNN query. The tenant comes from a
// signed envelope with action "search" (as a backend would issue per user
// request), verified exactly like the worker verifies jobs.
type SearchCmd struct {
	AWS      AWSFlags              `embed:""`
	Envelope EnvelopeVerifierFlags `embed:"" prefix:"envelope-"`
	Embed    EmbedFlags            `embed:"" prefix:"embed-"`

	DatabaseURL string         `name:"database-url" env:"TENANTRY_DATABASE_URL" required:"" help:"Worker role connection string."`
	Token       string         `name:"token" required:"" help:"Signed envelope (act=search) naming the tenant; - reads stdin."`
	K           int            `name:"k" default:"5" help:"Number of results."`
	Filter      string         `name:"filter" help:"Metadata filter, Bedrock KB RetrievalFilter JSON (e.g. {\"equals\":{\"key\":\"team\",\"value\":\"finance\"}})."`
	Mode        string         `name:"mode" default:"vector" enum:"vector,hybrid" help:"Ranking: vector, or hybrid (vector + full text, reciprocal rank fusion)."`
	Language    string         `name:"language" help:"Text search configuration for hybrid (default english)."`
	Retrieval   RetrievalFlags `embed:"" prefix:"search-"`
	JSON        bool           `name:"json" help:"JSON lines instead of a table."`
	Query       string         `arg:"" help:"The query text."`
}

// Run searches.
func (c *SearchCmd) Run(g *Globals) error {
	ctx := g.Context()
	token, err := tokenArg(c.Token)
	if err != nil {
		return err
	}
	v, err := c.Envelope.Verifier(ctx, c.AWS, g.Logger())
	if err != nil {
		return err
	}
	scope, err := (&binding.Search{Envelopes: v}).Resolve(ctx, token, "", "cli-search")
	if err != nil {
		return err
	}
	emb, err := c.Embed.Embedder(ctx, c.AWS, g.Logger())
	if err != nil {
		return err
	}
	vec, err := emb.Embed(ctx, []string{c.Query})
	if err != nil {
		return err
	}
	db, err := tenantdb.Open(ctx, tenantdb.Config{URL: c.DatabaseURL, MaxConns: 2, Logger: g.Logger()})
	if err != nil {
		return err
	}
	defer db.Close()
	filter, err := retrieval.ParseFilter([]byte(c.Filter))
	if err != nil {
		return err
	}
	s, err := retrieval.New(db, c.Retrieval.Config(emb.Dimensions(), g.Logger()))
	if err != nil {
		return err
	}
	res, err := s.Search(ctx, scope, retrieval.Request{Vector: vec[0], Text: c.Query, K: c.K, Filter: filter,
		Mode: retrieval.Mode(c.Mode), Language: c.Language})
	if err != nil {
		return err
	}
	hits := res.Hits
	enc := json.NewEncoder(os.Stdout)
	for _, h := range hits {
		if c.JSON {
			_ = enc.Encode(h)
			continue
		}
		fmt.Printf("%.3f  %s#%d (page %d)  %s\n", h.Score, h.DocumentID, h.Ordinal, h.Page, oneLine(h.Text, 100))
	}
	return nil
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// RetrievalFlags tune the search plan (internal/retrieval.Config).
type RetrievalFlags struct {
	ExactThreshold int64 `name:"exact-threshold" env:"TENANTRY_SEARCH_EXACT_THRESHOLD" default:"1000" help:"A tenant (after the filter) with at most this many chunks is searched exactly."`
	EFSearch       int   `name:"ef-search" env:"TENANTRY_SEARCH_EF_SEARCH" default:"200" help:"hnsw.ef_search for a tenant holding the whole table; scaled up by 1+log10(table rows / tenant rows), at most 1000."`
	MaxScanTuples  int   `name:"max-scan-tuples" env:"TENANTRY_SEARCH_MAX_SCAN_TUPLES" default:"20000" help:"hnsw.max_scan_tuples (iterative scan budget; a short scan is repeated exactly)."`
}

// Config returns the library configuration.
func (f RetrievalFlags) Config(dims int, logger *zap.Logger) retrieval.Config {
	return retrieval.Config{ExactThreshold: f.ExactThreshold, EFSearch: f.EFSearch, MaxScanTuples: f.MaxScanTuples, Dims: dims, Logger: logger}
}
