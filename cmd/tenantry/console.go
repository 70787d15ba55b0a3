package main

import (
	"github.com/tenantry/tenantry/internal/console"
	"github.com/tenantry/tenantry/internal/service"
)

// ConsoleCmd serves the operator console.
type ConsoleCmd struct {
	AWS      AWSFlags              `embed:""`
	S3       S3Endpoint            `embed:""`
	SQS      SQSEndpoint           `embed:""`
	SFN      SFNEndpoint           `embed:""`
	KMS      KMSEndpoint           `embed:""`
	Envelope EnvelopeVerifierFlags `embed:""`
	Signer   EnvelopeSignerFlags   `embed:""`

	Listen          string `name:"listen" env:"TENANTRY_CONSOLE_LISTEN" default:"127.0.0.1:8090" help:"Address to serve the console on."`
	URL             string `name:"url" env:"TENANTRY_CONSOLE_URL" default:"http://127.0.0.1:8090" help:"The console's external URL (the OIDC redirect URI is URL/callback)."`
	InsecureCookies bool   `name:"insecure-cookies" env:"TENANTRY_CONSOLE_INSECURE_COOKIES" help:"Cookies without Secure: only for an http://127.0.0.1 URL (local development)."`

	OIDCIssuer     string   `name:"oidc-issuer" env:"TENANTRY_CONSOLE_OIDC_ISSUER" required:"" help:"OIDC issuer of operators (Cognito: https://cognito-idp.<region>.amazonaws.com/<pool id>)."`
	OIDCClientID   string   `name:"oidc-client-id" env:"TENANTRY_CONSOLE_OIDC_CLIENT_ID" required:"" help:"The console's app client id."`
	OIDCSecret     string   `name:"oidc-client-secret" env:"TENANTRY_CONSOLE_OIDC_CLIENT_SECRET" help:"App client secret (confidential clients only)."`
	GroupsClaim    string   `name:"groups-claim" env:"TENANTRY_CONSOLE_GROUPS_CLAIM" default:"groups" help:"Claim listing the user's groups (Cognito: cognito:groups)."`
	OperatorGroups []string `name:"operator-group" env:"TENANTRY_CONSOLE_OPERATOR_GROUPS" default:"tenantry-operators" help:"Groups with the operator role (may act)."`
	ViewerGroups   []string `name:"viewer-group" env:"TENANTRY_CONSOLE_VIEWER_GROUPS" default:"tenantry-viewers" help:"Groups with the viewer role (read only)."`

	OwnerURL        string `name:"owner-database-url" aliases:"owner-url" env:"TENANTRY_OWNER_DATABASE_URL" required:"" help:"Owner role connection string: the console's read-only view of every tenant."`
	DatabaseURL     string `name:"database-url" env:"TENANTRY_DATABASE_URL" help:"Worker role connection string: operator audit events and replays (empty: no actions that write)."`
	DLQURL          string `name:"dlq-url" env:"TENANTRY_DLQ_URL" help:"Dead-letter queue URL (empty: no DLQ views)."`
	QueueURL        string `name:"queue-url" env:"TENANTRY_QUEUE_URL" help:"Job queue for reindex jobs (empty: no reindex)."`
	StateMachineARN string `name:"state-machine-arn" env:"TENANTRY_SFN_STATE_MACHINE_ARN" help:"The pipeline state machine (empty: no Step Functions views)."`
	Issuer          string `name:"console-issuer" env:"TENANTRY_CONSOLE_ISSUER" help:"iss of the console's operator envelopes (must be one of the worker's trusted issuers)."`
}

// Run serves until the process is signalled.
func (c *ConsoleCmd) Run(g *Globals) error {
	return service.Console(g.Context(), service.ConsoleConfig{
		Console: console.Config{BaseURL: c.URL, InsecureCookies: c.InsecureCookies, OIDC: console.OIDCConfig{
			Issuer: c.OIDCIssuer, ClientID: c.OIDCClientID, ClientSecret: c.OIDCSecret, GroupsClaim: c.GroupsClaim,
			OperatorGroups: c.OperatorGroups, ViewerGroups: c.ViewerGroups}},
		Listen: c.Listen, OwnerURL: c.OwnerURL, DatabaseURL: c.DatabaseURL,
		DLQ: service.DLQSource{AWS: c.AWS.settings(c.S3, c.SQS, c.SFN, c.KMS), Trust: c.Envelope.trust()}, DLQURL: c.DLQURL,
		JobQueueURL: c.QueueURL, StateMachineARN: c.StateMachineARN, Signing: c.Signer.signing(), Issuer: c.Issuer, Audience: c.Envelope.Audience,
	}, g.Logger())
}
