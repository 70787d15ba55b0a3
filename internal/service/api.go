package service

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/searchapi"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// OIDC configures bearer-token authentication of the search API; an empty
// Issuer refuses bearer tokens.
type OIDC struct {
	Issuer      string
	Audience    string // the app client id: aud, or client_id of a Cognito access token
	TenantClaim string // e.g. custom:tenant_id
	TokenUse    string // "", "id" or "access"
}

// APIConfig is `tenantry api`: the search API (POST /v1/search, GET /healthz).
type APIConfig struct {
	AWS         AWS
	Trust       Trust
	Embed       Embedding
	OIDC        OIDC
	Retrieval   Retrieval
	DatabaseURL string
	// DatabaseIAMAuth logs in with an RDS IAM token per connection.
	DatabaseIAMAuth bool
	Listen          string // default 127.0.0.1:8088
	MaxConns        int32  // default 8
}

// ServeAPI serves the search API until ctx ends, then shuts down gracefully.
// Every request's tenant is established by binding.Search (a search
// envelope or an OIDC token) and every query runs through the gateway.
func ServeAPI(ctx context.Context, cfg APIConfig, logger *zap.Logger) error {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8088"
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 8
	}
	v, err := cfg.Trust.Verifier(ctx, cfg.AWS, logger)
	if err != nil {
		return err
	}
	gate := &binding.Search{Envelopes: v}
	if cfg.OIDC.Issuer != "" {
		tv, err := binding.NewOIDC(ctx, binding.OIDCConfig{Issuer: cfg.OIDC.Issuer, Audience: cfg.OIDC.Audience,
			TenantClaim: cfg.OIDC.TenantClaim, TokenUse: cfg.OIDC.TokenUse, Logger: logger})
		if err != nil {
			return err
		}
		gate.Tokens = tv
	}
	emb, err := cfg.Embed.Embedder(ctx, cfg.AWS, logger)
	if err != nil {
		return err
	}
	pw, err := cfg.AWS.databasePassword(ctx, cfg.DatabaseIAMAuth)
	if err != nil {
		return err
	}
	db, err := tenantdb.Open(ctx, tenantdb.Config{URL: cfg.DatabaseURL, MaxConns: cfg.MaxConns, Password: pw, Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	s, err := retrieval.New(db, cfg.Retrieval.config(emb.Dimensions(), logger))
	if err != nil {
		return err
	}
	h, err := searchapi.New(searchapi.Config{Gate: gate, Searcher: s, Embedder: emb, Security: db, Ready: db.Ping, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	logger.Info("search API listening", zap.String("addr", ln.Addr().String()), zap.Bool("oidc", gate.Tokens != nil))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
