package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/oidcauth"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/searchapi"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// APICmd serves the search API (POST /v1/search, GET /healthz).
type APICmd struct {
	AWS       AWSFlags              `embed:""`
	Envelope  EnvelopeVerifierFlags `embed:"" prefix:"envelope-"`
	Embed     EmbedFlags            `embed:"" prefix:"embed-"`
	OIDC      OIDCFlags             `embed:"" prefix:"oidc-"`
	Retrieval RetrievalFlags        `embed:"" prefix:"search-"`

	DatabaseURL string `name:"database-url" env:"TENANTRY_DATABASE_URL" required:"" help:"Worker role connection string."`
	Listen      string `name:"listen" env:"TENANTRY_API_LISTEN" default:"127.0.0.1:8088" help:"Address to serve the search API on."`
	MaxConns    int32  `name:"max-conns" env:"TENANTRY_API_MAX_CONNS" default:"8" help:"Database connections."`
}

// OIDCFlags configure bearer-token authentication (optional).
type OIDCFlags struct {
	Issuer      string `name:"issuer" env:"TENANTRY_OIDC_ISSUER" help:"OIDC issuer URL (Cognito: https://cognito-idp.<region>.amazonaws.com/<pool id>); empty: bearer tokens refused."`
	Audience    string `name:"audience" env:"TENANTRY_OIDC_AUDIENCE" help:"App client id: the token's aud, or client_id of a Cognito access token."`
	TenantClaim string `name:"tenant-claim" env:"TENANTRY_OIDC_TENANT_CLAIM" default:"custom:tenant_id" help:"Claim that holds the tenant id."`
	TokenUse    string `name:"token-use" env:"TENANTRY_OIDC_TOKEN_USE" enum:",id,access" default:"" help:"Require this token_use claim (id or access)."`
}

// Run serves until the process is signalled.
func (c *APICmd) Run(g *Globals) error {
	ctx := g.Context()
	log := g.Logger()
	v, err := c.Envelope.Verifier(ctx, c.AWS, log)
	if err != nil {
		return err
	}
	gate := &binding.Search{Envelopes: v, TokenReason: oidcauth.Classify}
	if c.OIDC.Issuer != "" {
		tv, err := oidcauth.New(ctx, oidcauth.Config{Issuer: c.OIDC.Issuer, Audience: c.OIDC.Audience,
			TenantClaim: c.OIDC.TenantClaim, TokenUse: c.OIDC.TokenUse, Logger: log})
		if err != nil {
			return err
		}
		gate.Tokens = tv
	}
	emb, err := c.Embed.Embedder(ctx, c.AWS, log)
	if err != nil {
		return err
	}
	db, err := tenantdb.Open(ctx, tenantdb.Config{URL: c.DatabaseURL, MaxConns: c.MaxConns, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	s, err := retrieval.New(db, c.Retrieval.Config(emb.Dimensions(), log))
	if err != nil {
		return err
	}
	h, err := searchapi.New(searchapi.Config{Gate: gate, Searcher: s, Embedder: emb, Security: db, Ready: db.Ping, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	log.Info("search API listening", zap.String("addr", ln.Addr().String()), zap.Bool("oidc", gate.Tokens != nil))
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
