package main

import (
	"time"

	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/pipeline"
)

// StageFlags are the settings of the pipeline's stages and of the tenant
// gateway, shared by the worker and the Lambda task function.
type StageFlags struct {
	AWS      AWSFlags              `embed:""`
	S3       S3Endpoint            `embed:""`
	SQS      SQSEndpoint           `embed:""`
	SFN      SFNEndpoint           `embed:""`
	KMS      KMSEndpoint           `embed:""`
	Envelope EnvelopeVerifierFlags `embed:""`
	Embed    EmbedFlags            `embed:""`

	DatabaseURL string   `name:"database-url" env:"TENANTRY_DATABASE_URL" required:"" help:"Worker role connection string (not the owner; preflight refuses roles that could bypass RLS)."`
	DBMaxConns  int32    `name:"db-max-conns" env:"TENANTRY_DB_MAX_CONNS" default:"8" help:"Database pool size."`
	DBIAMAuth   bool     `name:"database-iam-auth" env:"TENANTRY_DATABASE_IAM_AUTH" help:"Log in with an RDS IAM token per connection (the role needs rds-db:connect; the URL has no password)."`
	Buckets     []string `name:"buckets" aliases:"bucket" env:"TENANTRY_BUCKETS" help:"Accept events only for these buckets (repeat or comma-separate; default: any)."`

	MaxDocumentBytes int64  `name:"max-document-bytes" env:"TENANTRY_MAX_DOCUMENT_BYTES" default:"67108864" help:"Largest object accepted."`
	MaxPages         int    `name:"max-pages" env:"TENANTRY_MAX_PAGES" default:"2000" help:"Largest PDF page count."`
	MaxChunks        int    `name:"max-chunks" env:"TENANTRY_MAX_CHUNKS" default:"20000" help:"Most chunks per document; a document with more fails with document_too_large as soon as its chunk past the cap is cut, and extraction stops at max-chunks x chunk-tokens x 8 bytes of text."`
	PDFCacheDir      string `name:"pdf-cache-dir" env:"TENANTRY_PDF_CACHE_DIR" help:"Directory for the compiled PDFium (WebAssembly) so restarts load it in ~0.1 s instead of compiling ~3 s (default: the user cache dir)."`
	PDFSeedDir       string `name:"pdf-seed-dir" env:"TENANTRY_PDF_SEED_DIR" help:"Read-only compiled PDFium made ahead of time (tenantry pdfium compile; the image sets it), copied into --pdf-cache-dir before the first PDF so a fresh process does not compile (~3 s, ~250 MB)."`
	ChunkTokens      int    `name:"chunk-tokens" env:"TENANTRY_CHUNK_TOKENS" default:"512" help:"Chunk size in cl100k tokens."`
	ChunkOverlap     int    `name:"chunk-overlap" env:"TENANTRY_CHUNK_OVERLAP" default:"64" help:"Overlap between chunks in tokens."`
	EmbedBatch       int    `name:"embed-batch" env:"TENANTRY_EMBED_BATCH" default:"64" help:"Chunks per embedding call."`
	DocParallel      int    `name:"document-parallel" env:"TENANTRY_DOCUMENT_PARALLEL" default:"4" help:"Batches of one document embedded and stored at once (a large document does not hold the tail; the embedding limiter and per-tenant fairness still apply)."`
	GroupDocs        int    `name:"group-docs" env:"TENANTRY_GROUP_DOCS" default:"16" help:"Most small documents of one tenant whose final writes share one transaction when they are ready together (1: each document writes alone; the Lambda task always writes alone)."`
	GroupReserve     int    `name:"group-reserve" env:"TENANTRY_GROUP_RESERVE" default:"1" help:"Grouped final writes made at once beyond --group-writers, only for tenants none of whose groups is being written, so a tenant's documents next to a backlog's writes do not wait for them (0: none)."`
	GroupWriters     int    `name:"group-writers" env:"TENANTRY_GROUP_WRITERS" default:"2" help:"Grouped final writes made at once, all tenants together (concurrent inserts into the HNSW index cost more CPU per chunk)."`
	SpoolDir         string `name:"spool-dir" env:"TENANTRY_SPOOL_DIR" help:"Directory for objects above 8 MiB, and the decoded source of HTML and Markdown above 1 MiB, while they are processed (unlinked temporary files; default: the system's temporary directory)."`

	Telemetry TelemetryFlags `embed:""`
}

// config maps the flags to the service settings of the stages.
func (c *StageFlags) config() service.Config {
	overlap := c.ChunkOverlap
	if overlap == 0 {
		overlap = chunk.NoOverlap
	}
	return service.Config{
		AWS: c.AWS.settings(c.S3, c.SQS, c.SFN, c.KMS), Trust: c.Envelope.trust(), Embed: c.Embed.settings(),
		DatabaseURL: c.DatabaseURL, DBMaxConns: c.DBMaxConns, DatabaseIAMAuth: c.DBIAMAuth, Buckets: c.Buckets,
		Extract: extract.Config{MaxBytes: c.MaxDocumentBytes, MaxPages: c.MaxPages, PDFCacheDir: c.PDFCacheDir, PDFSeedDir: c.PDFSeedDir},
		Chunk:   chunk.Config{MaxTokens: c.ChunkTokens, OverlapTokens: overlap},
		Limits: pipeline.Limits{MaxBytes: c.MaxDocumentBytes, MaxChunks: c.MaxChunks, EmbedBatch: c.EmbedBatch,
			Parallel: c.DocParallel, SpoolDir: c.SpoolDir},
		GroupDocs: c.GroupDocs, GroupWriters: c.GroupWriters, GroupReserve: c.GroupReserve,
	}
}

// WorkerCmd runs the document worker until SIGINT/SIGTERM, then drains.
type WorkerCmd struct {
	StageFlags `embed:""`

	QueueURL string `name:"queue-url" env:"TENANTRY_QUEUE_URL" required:"" help:"SQS queue with S3 notifications and jobs."`
	DLQURL   string `name:"dlq-url" env:"TENANTRY_DLQ_URL" help:"Dead-letter queue (reason attributes are attached)."`

	TaskQueueURL string `name:"sfn-task-queue-url" env:"TENANTRY_SFN_TASK_QUEUE_URL" help:"Also run Step Functions tasks (SQS waitForTaskToken) from this queue."`
	TaskDLQURL   string `name:"sfn-task-dlq-url" env:"TENANTRY_SFN_TASK_DLQ_URL" help:"Dead-letter queue of the task queue."`

	Concurrency       int           `name:"concurrency" env:"TENANTRY_CONCURRENCY" default:"8" help:"Messages handled at once (slots shared by weighted round-robin over tenants)."`
	FairCredit        int           `name:"fair-credit" env:"TENANTRY_FAIR_CREDIT" default:"0" help:"Wake-up credit of fair dispatch, in rounds of --concurrency slots: a tenant that starts waiting may take that many rounds of slots before a backlogged tenant of the same weight gets its next (0: default; -1: none)."`
	FairReserve       int           `name:"fair-reserve" env:"TENANTRY_FAIR_RESERVE" default:"0" help:"Messages that may run beyond --concurrency, kept for tenants running fewer than that many, so a tenant arriving next to backlogs that fill every slot starts at once (0: a quarter of --concurrency, at least 1; -1: none)."`
	Prefetch          int           `name:"prefetch" env:"TENANTRY_PREFETCH" default:"0" help:"Messages held beyond --concurrency, waiting for their tenant's turn (0: as many as --concurrency; -1: none)."`
	Hold              int           `name:"hold" env:"TENANTRY_HOLD" default:"0" help:"Messages also received and held unverified while the tenant their key names has a backlog here, about 3 KB and no goroutine each (0: 2048 x --concurrency; -1: none)."`
	ParkRate          int           `name:"park-rate" env:"TENANTRY_PARK_RATE" default:"0" help:"Most messages a second parked of one tenant whose breaker is open, out of those held for it here: parking is background work that would otherwise slow the other tenants (0: 20; -1: not paced)."`
	Pollers           int           `name:"pollers" env:"TENANTRY_POLLERS" default:"2" help:"Concurrent long polls (four times as many while the worker holds messages for a backlogged tenant)."`
	VisibilityTimeout time.Duration `name:"visibility-timeout" env:"TENANTRY_VISIBILITY_TIMEOUT" default:"60s" help:"SQS visibility timeout; heartbeats extend it while a handler runs."`
	WaitTime          time.Duration `name:"wait-time" env:"TENANTRY_WAIT_TIME" default:"20s" help:"SQS long-poll wait."`
	MaxReceives       int           `name:"max-receives" env:"TENANTRY_MAX_RECEIVES" default:"5" help:"Receives before the worker dead-letters a message itself (lowered to one less than the queue's redrive maxReceiveCount)."`
	DrainTimeout      time.Duration `name:"drain-timeout" env:"TENANTRY_DRAIN_TIMEOUT" default:"30s" help:"On SIGTERM, how long in-flight work may finish."`
	HandlerTimeout    time.Duration `name:"handler-timeout" env:"TENANTRY_HANDLER_TIMEOUT" default:"15m" help:"Longest a single message may be handled (then it is retried later)."`
	BackoffBase       time.Duration `name:"backoff-base" env:"TENANTRY_BACKOFF_BASE" default:"1s" help:"First retry delay of transient failures (exponential, full jitter)."`
	BackoffMax        time.Duration `name:"backoff-max" env:"TENANTRY_BACKOFF_MAX" default:"5m" help:"Longest retry delay."`

	OpsAddr string `name:"ops-addr" env:"TENANTRY_OPS_ADDR" default:"127.0.0.1:9090" help:"Address of /metrics, /healthz, /readyz (\"\" disables)."`

	Breaker BreakerFlags `embed:"" prefix:"breaker-"`
	Release ReleaseFlags `embed:"" prefix:"breaker-"`
}

// Run runs the worker.
func (c *WorkerCmd) Run(g *Globals) error {
	cfg := c.Telemetry.apply(c.config())
	cfg.QueueURL, cfg.DLQURL = c.QueueURL, c.DLQURL
	cfg.TaskQueueURL, cfg.TaskDLQURL = c.TaskQueueURL, c.TaskDLQURL
	cfg.FairReserve = c.FairReserve
	cfg.Concurrency, cfg.FairCredit, cfg.Pollers, cfg.VisibilityTimeout, cfg.WaitTime = c.Concurrency, c.FairCredit, c.Pollers, c.VisibilityTimeout, c.WaitTime
	cfg.MaxReceiveCount, cfg.DrainTimeout, cfg.HandlerTimeout = c.MaxReceives, c.DrainTimeout, c.HandlerTimeout
	cfg.BackoffBase, cfg.BackoffMax, cfg.OpsAddr = c.BackoffBase, c.BackoffMax, c.OpsAddr
	cfg.Breaker, cfg.NoBreaker, cfg.Prefetch, cfg.Hold, cfg.ParkRate = c.Breaker.settings(&c.Release), c.Breaker.Disable, c.Prefetch, c.Hold, c.ParkRate
	return service.Run(g.Context(), cfg, service.Deps{}, g.Logger())
}

// LambdaCmd serves the Express state machine's tasks as an AWS Lambda
// function (the Runtime API at $AWS_LAMBDA_RUNTIME_API).
type LambdaCmd struct {
	StageFlags `embed:""`

	Breaker BreakerFlags `embed:"" prefix:"breaker-"`
}

// Run serves task invocations until the Lambda runtime ends the process.
func (c *LambdaCmd) Run(g *Globals) error {
	cfg := c.Telemetry.apply(c.config())
	cfg.Breaker, cfg.NoBreaker = c.Breaker.settings(nil), c.Breaker.Disable
	return service.RunLambda(g.Context(), cfg, service.Deps{}, g.Logger())
}
