package main

import (
	"os"
	"time"

	"github.com/tenantry/tenantry/internal/service"
)

// DemoCmd runs the end-to-end demo on the local stack (make demo).
type DemoCmd struct {
	AWS   AWSFlags    `embed:""`
	S3    S3Endpoint  `embed:""`
	SQS   SQSEndpoint `embed:""`
	Embed EmbedFlags  `embed:""`

	DatabaseURL string        `name:"database-url" env:"TENANTRY_DATABASE_URL" required:"" help:"Worker role connection string."`
	OwnerURL    string        `name:"owner-database-url" aliases:"owner-url" env:"TENANTRY_OWNER_DATABASE_URL" required:"" help:"Owner role connection string (audit verify)."`
	Corpus      string        `name:"corpus" default:"deploy/local/corpus" help:"Folder with one sub-folder of documents per tenant (acme, globex)."`
	Bucket      string        `name:"bucket" default:"tenantry-demo" help:"Upload bucket."`
	Queue       string        `name:"queue" env:"TENANTRY_EVENTS_QUEUE" default:"tenantry-jobs" help:"Queue the local S3 event relay feeds."`
	StateDir    string        `name:"state-dir" default:".stack/demo" help:"Where the demo keeps its signing key and JWKS."`
	OpsAddr     string        `name:"ops-addr" default:"127.0.0.1:9091" help:"The demo worker's ops address."`
	APIAddr     string        `name:"api-addr" default:"127.0.0.1:8088" help:"The demo search API's address (empty: skip the API step)."`
	Query       string        `name:"query" default:"How long is the warranty?" help:"The question asked as each tenant."`
	Timeout     time.Duration `name:"timeout" default:"4m" help:"Give up after this long."`
}

// Run runs the demo.
func (c *DemoCmd) Run(g *Globals) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return service.Demo(g.Context(), service.DemoConfig{AWS: c.AWS.settings(c.S3, c.SQS), Embed: c.Embed.settings(),
		DatabaseURL: c.DatabaseURL, OwnerURL: c.OwnerURL, Corpus: c.Corpus, Bucket: c.Bucket, Queue: c.Queue,
		StateDir: c.StateDir, OpsAddr: c.OpsAddr, APIAddr: c.APIAddr, Query: c.Query, Timeout: c.Timeout,
		Worker: []string{self, "worker", "--log-level=info"}, Out: os.Stdout}, g.Logger())
}
