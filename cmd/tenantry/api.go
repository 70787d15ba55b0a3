package main

import "github.com/tenantry/tenantry/internal/service"

// APICmd serves the search API (POST /v1/search, GET /healthz).
type APICmd struct {
	AWS       AWSFlags              `embed:""`
	KMS       KMSEndpoint           `embed:""`
	Envelope  EnvelopeVerifierFlags `embed:""`
	Embed     EmbedFlags            `embed:""`
	OIDC      OIDCFlags             `embed:"" prefix:"oidc-"`
	Retrieval RetrievalFlags        `embed:"" prefix:"search-"`

	DatabaseURL string `name:"database-url" env:"TENANTRY_DATABASE_URL" required:"" help:"Worker role connection string."`
	DBIAMAuth   bool   `name:"database-iam-auth" env:"TENANTRY_DATABASE_IAM_AUTH" help:"Log in with an RDS IAM token per connection (the role needs rds-db:connect; the URL has no password)."`
	Listen      string `name:"listen" env:"TENANTRY_API_LISTEN" default:"127.0.0.1:8088" help:"Address to serve the search API on."`
	MaxConns    int32  `name:"db-max-conns" aliases:"max-conns" env:"TENANTRY_DB_MAX_CONNS,TENANTRY_API_MAX_CONNS" default:"8" help:"Database pool size."`
}

// OIDCFlags configure bearer-token authentication (optional).
type OIDCFlags struct {
	Issuer      string `name:"issuer" env:"TENANTRY_OIDC_ISSUER" help:"OIDC issuer URL (Cognito: https://cognito-idp.<region>.amazonaws.com/<pool id>); empty: bearer tokens refused."`
	Audience    string `name:"audience" env:"TENANTRY_OIDC_AUDIENCE" help:"App client id: the token's aud, or client_id of a Cognito access token."`
	TenantClaim string `name:"tenant-claim" env:"TENANTRY_OIDC_TENANT_CLAIM" default:"custom:tenant_id" help:"Claim that holds the tenant id."`
	TokenUse    string `name:"token-use" env:"TENANTRY_OIDC_TOKEN_USE" enum:",id,access" default:"" help:"Require this token_use claim (id or access)."`
}

// RetrievalFlags tune the search plan (internal/retrieval.Config).
type RetrievalFlags struct {
	ExactThreshold int64 `name:"exact-threshold" env:"TENANTRY_SEARCH_EXACT_THRESHOLD" default:"1000" help:"A tenant (after the filter) with at most this many chunks is searched exactly."`
	EFSearch       int   `name:"ef-search" env:"TENANTRY_SEARCH_EF_SEARCH" default:"200" help:"hnsw.ef_search for a tenant holding the whole table; scaled up by 1+log10(table rows / tenant rows), at most 1000."`
	MaxScanTuples  int   `name:"max-scan-tuples" env:"TENANTRY_SEARCH_MAX_SCAN_TUPLES" default:"20000" help:"hnsw.max_scan_tuples (iterative scan budget; a short scan is repeated exactly)."`
}

// Run serves until the process is signalled.
func (c *APICmd) Run(g *Globals) error {
	return service.ServeAPI(g.Context(), service.APIConfig{AWS: c.AWS.settings(c.KMS), Trust: c.Envelope.trust(), Embed: c.Embed.settings(),
		OIDC: service.OIDC(c.OIDC), Retrieval: service.Retrieval(c.Retrieval), DatabaseURL: c.DatabaseURL, DatabaseIAMAuth: c.DBIAMAuth, Listen: c.Listen, MaxConns: c.MaxConns}, g.Logger())
}
