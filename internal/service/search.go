package service

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// SearchConfig is one tenant-scoped search: the tenant comes from a signed
// envelope with action "search", established by the gate (internal/binding)
// exactly as the worker establishes a job's.
type SearchConfig struct {
	AWS         AWS
	Trust       Trust
	Embed       Embedding
	DatabaseURL string
	Token       string
	Query       string
	K           int // default 5
}

// Search embeds the query and returns the K nearest chunks of the token's
// tenant.
func Search(ctx context.Context, cfg SearchConfig, logger *zap.Logger) ([]pgstore.Hit, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.DatabaseURL == "" || cfg.Token == "" {
		return nil, errors.New("service: search needs a database URL and a token")
	}
	if cfg.K <= 0 {
		cfg.K = 5
	}
	v, err := cfg.Trust.Verifier(ctx, cfg.AWS, logger)
	if err != nil {
		return nil, err
	}
	gate := binding.Resolver{Verifier: v}
	ver, err := gate.Search(ctx, cfg.Token)
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
	return pgstore.New(db, logger).Search(ctx, ver.Scope, vec[0], cfg.K)
}
