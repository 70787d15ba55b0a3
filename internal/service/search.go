package service

import (
	"context"
	"errors"
	"io"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Retrieval tunes the search plan (internal/retrieval.Config); zero values
// take the library's defaults.
type Retrieval struct {
	ExactThreshold int64
	EFSearch       int
	MaxScanTuples  int
}

func (r Retrieval) config(dims int, logger *zap.Logger) retrieval.Config {
	return retrieval.Config{ExactThreshold: r.ExactThreshold, EFSearch: r.EFSearch, MaxScanTuples: r.MaxScanTuples, Dims: dims, Logger: logger}
}

// SearchConfig is one tenant-scoped search: the tenant comes from a signed
// envelope with action "search", established by the gate (internal/binding)
// exactly as the search API establishes it.
type SearchConfig struct {
	AWS         AWS
	Trust       Trust
	Embed       Embedding
	Retrieval   Retrieval
	DatabaseURL string
	Token       string
	Query       string
	K           int    // default 5
	Filter      string // Bedrock KB RetrievalFilter JSON; "" for none
	Mode        string // "vector" (default) or "hybrid"
	Language    string // text search configuration for hybrid
}

// Search embeds the query and returns the K nearest chunks of the token's
// tenant (retrieval.Searcher: tenant-correct plan, filter, ranking).
func Search(ctx context.Context, cfg SearchConfig, logger *zap.Logger) ([]retrieval.Hit, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.DatabaseURL == "" || cfg.Token == "" {
		return nil, errors.New("service: search needs a database URL and a token")
	}
	if cfg.K <= 0 {
		cfg.K = 5
	}
	filter, err := retrieval.ParseFilter([]byte(cfg.Filter))
	if err != nil {
		return nil, err
	}
	v, err := cfg.Trust.Verifier(ctx, cfg.AWS, logger)
	if err != nil {
		return nil, err
	}
	scope, err := (&binding.Search{Envelopes: v}).Resolve(ctx, cfg.Token, "", "cli-search")
	if err != nil {
		return nil, err
	}
	emb, err := cfg.Embed.Embedder(ctx, cfg.AWS, logger)
	if err != nil {
		return nil, err
	}
	vec, err := emb.Embed(ctx, []string{cfg.Query})
	if err != nil {
		return nil, err
	}
	db, err := tenantdb.Open(ctx, tenantdb.Config{URL: cfg.DatabaseURL, MaxConns: 2, Logger: logger})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	s, err := retrieval.New(db, cfg.Retrieval.config(emb.Dimensions(), logger))
	if err != nil {
		return nil, err
	}
	res, err := s.Search(ctx, scope, retrieval.Request{Vector: vec[0], Text: cfg.Query, K: cfg.K, Filter: filter,
		Mode: retrieval.Mode(cfg.Mode), Language: cfg.Language})
	if err != nil {
		return nil, err
	}
	return res.Hits, nil
}

// WriteHits prints search hits, as JSON lines or as text (the CLI's output).
func WriteHits(w io.Writer, hits []retrieval.Hit, asJSON bool) error {
	return retrieval.WriteHits(w, hits, asJSON)
}
