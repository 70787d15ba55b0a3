package main

import (
	"os"

	"github.com/tenantry/tenantry/internal/service"
)

// SearchCmd runs a tenant-scoped cosine KNN query. The tenant comes from a
// signed envelope with action "search" (as a backend would issue per user
// request), established by the same gate as the worker's.
type SearchCmd struct {
	AWS      AWSFlags              `embed:""`
	KMS      KMSEndpoint           `embed:""`
	Envelope EnvelopeVerifierFlags `embed:""`
	Embed    EmbedFlags            `embed:""`

	DatabaseURL string         `name:"database-url" env:"TENANTRY_DATABASE_URL" required:"" help:"Worker role connection string."`
	Token       string         `name:"token" required:"" help:"Signed envelope (act=search) naming the tenant; - reads stdin."`
	Limit       int            `name:"limit" aliases:"k" default:"5" help:"Number of results (k)."`
	Filter      string         `name:"filter" help:"Metadata filter, Bedrock KB RetrievalFilter JSON (e.g. {\"equals\":{\"key\":\"team\",\"value\":\"finance\"}})."`
	Mode        string         `name:"mode" default:"vector" enum:"vector,hybrid" help:"Ranking: vector, or hybrid (vector + full text, reciprocal rank fusion)."`
	Language    string         `name:"language" help:"Text search configuration for hybrid (default english)."`
	Retrieval   RetrievalFlags `embed:"" prefix:"search-"`
	OutputFlags `embed:""`
	Query       string `arg:"" help:"The query text."`
}

// Run searches.
func (c *SearchCmd) Run(g *Globals) error {
	token, err := tokenArg(c.Token)
	if err != nil {
		return err
	}
	hits, err := service.Search(g.Context(), service.SearchConfig{AWS: c.AWS.settings(c.KMS), Trust: c.Envelope.trust(), Embed: c.Embed.settings(),
		Retrieval: service.Retrieval(c.Retrieval), DatabaseURL: c.DatabaseURL, Token: token, Query: c.Query, K: c.Limit,
		Filter: c.Filter, Mode: c.Mode, Language: c.Language}, g.Logger())
	if err != nil {
		return err
	}
	return service.WriteHits(os.Stdout, hits, c.format().IsJSON())
}
