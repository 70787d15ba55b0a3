package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/internal/demo"
)

// DemoCmd runs the end-to-end demo on the local stack (make demo).
type DemoCmd struct {
	AWS   AWSFlags   `embed:""`
	Embed EmbedFlags `embed:"" prefix:"embed-"`

	DatabaseURL string        `name:"database-url" env:"TENANTRY_DATABASE_URL" required:"" help:"Worker role connection string."`
	OwnerURL    string        `name:"owner-url" env:"TENANTRY_OWNER_DATABASE_URL" required:"" help:"Owner role connection string (audit verify)."`
	Corpus      string        `name:"corpus" default:"deploy/local/corpus" help:"Folder with one sub-folder of documents per tenant (acme, globex)."`
	Bucket      string        `name:"bucket" default:"tenantry-demo" help:"Upload bucket."`
	Queue       string        `name:"queue" env:"TENANTRY_EVENTS_QUEUE" default:"tenantry-jobs" help:"Queue the local S3 event relay feeds."`
	StateDir    string        `name:"state-dir" default:".stack/demo" help:"Where the demo keeps its signing key and JWKS."`
	OpsAddr     string        `name:"ops-addr" default:"127.0.0.1:9091" help:"The demo worker's ops address."`
	Query       string        `name:"query" default:"How long is the warranty?" help:"The question asked as each tenant."`
	Timeout     time.Duration `name:"timeout" default:"4m" help:"Give up after this long."`
}

// Demo tenants: fixed ids so runs are comparable.
var demoTenants = []struct{ name, id string }{
	{"acme", "a0000000-0000-4000-8000-00000000ac3e"},
	{"globex", "b0000000-0000-4000-8000-0000006106e8"},
}

const (
	demoIssuer   = "https://backend.demo.tenantry.local"
	demoAudience = "tenantry"
)

// Run runs the demo.
func (c *DemoCmd) Run(g *Globals) error {
	ctx := g.Context()
	signer, gate, jwksPath, err := demo.Keys(c.StateDir, demoIssuer, demoAudience, g.Logger())
	if err != nil {
		return err
	}
	aws := c.AWS.settings()
	s3c, err := aws.S3(ctx)
	if err != nil {
		return err
	}
	sqsc, err := aws.SQS(ctx)
	if err != nil {
		return err
	}
	emb, err := c.Embed.settings().Embedder(ctx, aws, g.Logger())
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var tenants []demo.Tenant
	for _, t := range demoTenants {
		tenants = append(tenants, demo.Tenant{Name: t.name, ID: uuid.MustParse(t.id), Dir: filepath.Join(c.Corpus, t.name)})
	}
	return demo.Run(ctx, demo.Config{
		Bucket: c.Bucket, QueueName: c.Queue, Tenants: tenants, Query: c.Query,
		S3: s3c, SQS: sqsc, Embedder: emb, DatabaseURL: c.DatabaseURL, OwnerURL: c.OwnerURL,
		Signer: signer, Issuer: demoIssuer, Audience: demoAudience, Gate: gate,
		Worker: []string{self, "worker", "--log-level=info"},
		WorkerEnv: []string{
			"TENANTRY_ENVELOPE_JWKS_FILE=" + jwksPath, "TENANTRY_ENVELOPE_ISSUERS=" + demoIssuer,
			"TENANTRY_ENVELOPE_AUDIENCE=" + demoAudience, "TENANTRY_BUCKETS=" + c.Bucket,
			"TENANTRY_OPS_ADDR=" + c.OpsAddr, "TENANTRY_WAIT_TIME=1s", "TENANTRY_VISIBILITY_TIMEOUT=30s",
			"TENANTRY_BACKOFF_BASE=200ms", "TENANTRY_CHUNK_TOKENS=96", "TENANTRY_CHUNK_OVERLAP=16", "TENANTRY_EMBED_PROVIDER=" + c.Embed.Provider,
		},
		ReadyURL: fmt.Sprintf("http://%s/readyz", c.OpsAddr), Timeout: c.Timeout, Out: os.Stdout, Logger: g.Logger(),
	})
}
