package main

import (
	"os"

	"github.com/tenantry/tenantry/internal/s3relay"
	"github.com/tenantry/tenantry/internal/service"
)

// DevCmd holds local-stack helpers.
type DevCmd struct {
	S3Relay DevS3RelayCmd `cmd:"" name:"s3-relay" help:"Relay the local S3 server's event webhook into an SQS queue as S3 notifications."`
	Console DevConsoleCmd `cmd:"" name:"console" help:"Serve the operator console with a dev OIDC issuer on the local stack (make console)."`
}

// DevS3RelayCmd runs the webhook relay.
type DevS3RelayCmd struct {
	AWS    AWSFlags    `embed:""`
	SQS    SQSEndpoint `embed:""`
	Listen string      `name:"listen" default:"127.0.0.1:9325" help:"Address to listen on (loopback)."`
	Queue  string      `name:"queue" env:"TENANTRY_EVENTS_QUEUE" default:"tenantry-jobs" help:"Queue name that receives the events."`
}

// Run serves until the context ends.
func (c *DevS3RelayCmd) Run(g *Globals) error {
	return service.S3Relay(g.Context(), c.AWS.settings(c.SQS), s3relay.Config{QueueName: c.Queue}, c.Listen, g.Logger())
}

// DevConsoleCmd serves the operator console on the local stack with a dev
// OIDC issuer (make console).
type DevConsoleCmd struct {
	AWS         AWSFlags    `embed:""`
	S3          S3Endpoint  `embed:""`
	SQS         SQSEndpoint `embed:""`
	SFN         SFNEndpoint `embed:""`
	KMS         KMSEndpoint `embed:""`
	DatabaseURL string      `name:"database-url" env:"TENANTRY_DATABASE_URL" required:"" help:"Worker role connection string."`
	OwnerURL    string      `name:"owner-database-url" aliases:"owner-url" env:"TENANTRY_OWNER_DATABASE_URL" required:"" help:"Owner role connection string (the console's read-only view)."`
	StateDir    string      `name:"state-dir" default:".stack/demo" help:"The demo's signing key and JWKS."`
	Queue       string      `name:"queue" env:"TENANTRY_EVENTS_QUEUE" default:"tenantry-jobs" help:"The demo's job queue (its DLQ is <queue>-dlq)."`
	Listen      string      `name:"listen" default:"127.0.0.1:8090" help:"Console address (loopback)."`
	IssuerAddr  string      `name:"issuer-addr" default:"127.0.0.1:8091" help:"Dev OIDC issuer address (loopback)."`
}

// Run serves until the process is signalled.
func (c *DevConsoleCmd) Run(g *Globals) error {
	return service.DevConsole(g.Context(), service.DevConsoleConfig{AWS: c.AWS.settings(c.S3, c.SQS, c.SFN, c.KMS), DatabaseURL: c.DatabaseURL,
		OwnerURL: c.OwnerURL, StateDir: c.StateDir, Queue: c.Queue, Listen: c.Listen, IssuerAddr: c.IssuerAddr, Out: os.Stdout}, g.Logger())
}
