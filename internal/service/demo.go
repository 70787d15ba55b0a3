package service

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/demo"
)

// DemoConfig is `tenantry demo` (make demo) on the local stack.
type DemoConfig struct {
	AWS         AWS
	Embed       Embedding
	DatabaseURL string
	OwnerURL    string
	Corpus      string // one sub-folder of documents per demo tenant
	Bucket      string
	Queue       string // the queue the local S3 event relay feeds
	StateDir    string // the demo's signing key and JWKS
	OpsAddr     string // the demo worker's
	APIAddr     string // the demo search API's ("": no API step)
	Query       string
	Timeout     time.Duration
	// Worker is the command line of the worker to start (this binary).
	Worker []string
	Out    io.Writer
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

// Demo runs the end-to-end demo: its own keys (trusted by the worker it
// starts), two tenants' corpus uploaded through presigned URLs, search as
// each tenant, a forged upload refused, every audit chain verified.
func Demo(ctx context.Context, cfg DemoConfig, logger *zap.Logger) error {
	signer, gate, jwksPath, err := demo.Keys(cfg.StateDir, demoIssuer, demoAudience, logger)
	if err != nil {
		return err
	}
	s3c, err := cfg.AWS.S3(ctx)
	if err != nil {
		return err
	}
	sqsc, err := cfg.AWS.SQS(ctx)
	if err != nil {
		return err
	}
	emb, err := cfg.Embed.Embedder(ctx, cfg.AWS, logger)
	if err != nil {
		return err
	}
	var tenants []demo.Tenant
	for _, t := range demoTenants {
		tenants = append(tenants, demo.Tenant{Name: t.name, ID: uuid.MustParse(t.id), Dir: filepath.Join(cfg.Corpus, t.name)})
	}
	return demo.Run(ctx, demo.Config{
		Bucket: cfg.Bucket, QueueName: cfg.Queue, Tenants: tenants, Failing: demo.NewFailingTenant("initech"), Query: cfg.Query,
		S3: s3c, SQS: sqsc, Embedder: emb, DatabaseURL: cfg.DatabaseURL, OwnerURL: cfg.OwnerURL,
		Signer: signer, Issuer: demoIssuer, Audience: demoAudience, Gate: gate, Worker: cfg.Worker,
		WorkerEnv: []string{
			"TENANTRY_ENVELOPE_JWKS_FILE=" + jwksPath, "TENANTRY_ENVELOPE_ISSUERS=" + demoIssuer,
			"TENANTRY_ENVELOPE_AUDIENCE=" + demoAudience, "TENANTRY_BUCKETS=" + cfg.Bucket,
			"TENANTRY_OPS_ADDR=" + cfg.OpsAddr, "TENANTRY_WAIT_TIME=1s", "TENANTRY_VISIBILITY_TIMEOUT=30s",
			"TENANTRY_BACKOFF_BASE=200ms", "TENANTRY_CHUNK_TOKENS=96", "TENANTRY_CHUNK_OVERLAP=16", "TENANTRY_EMBED_PROVIDER=" + cfg.Embed.Provider,
			"TENANTRY_BREAKER_CONSECUTIVE_FAILURES=3", "TENANTRY_BREAKER_POLL_INTERVAL=200ms", "TENANTRY_BREAKER_OPEN_FOR=10m",
		},
		ReadyURL: fmt.Sprintf("http://%s/readyz", cfg.OpsAddr), Timeout: cfg.Timeout, Out: cfg.Out, Logger: logger,
		API: demoAPI(cfg, jwksPath),
	})
}

// demoAPI starts `tenantry api` (the worker's binary) beside the worker.
func demoAPI(cfg DemoConfig, jwksPath string) demo.APIConfig {
	if cfg.APIAddr == "" || len(cfg.Worker) == 0 {
		return demo.APIConfig{}
	}
	return demo.APIConfig{Command: []string{cfg.Worker[0], "api", "--log-level=warn"}, Addr: cfg.APIAddr, Audience: "tenantry-demo",
		Env: []string{
			"TENANTRY_ENVELOPE_JWKS_FILE=" + jwksPath, "TENANTRY_ENVELOPE_ISSUERS=" + demoIssuer,
			"TENANTRY_ENVELOPE_AUDIENCE=" + demoAudience, "TENANTRY_EMBED_PROVIDER=" + cfg.Embed.Provider,
		}}
}
