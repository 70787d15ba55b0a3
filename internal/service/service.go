package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/internal/embed/fair"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/internal/ingest"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/ops"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/sfnlambda"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Config is everything `tenantry worker` needs.
type Config struct {
	DatabaseURL string
	DBMaxConns  int32

	QueueURL string
	DLQURL   string
	Buckets  []string

	Verifier *envelope.Verifier
	S3       S3API
	SQS      sqssource.API
	Embedder pipeline.Embedder

	// TaskQueueURL, if set, also runs the Step Functions task worker on
	// this queue (SQS waitForTaskToken tasks), answering through SFN.
	TaskQueueURL string
	TaskDLQURL   string
	SFN          sfntask.SFNAPI

	Extract extract.Config
	Chunk   chunk.Config
	Limits  pipeline.Limits

	Concurrency       int
	Pollers           int
	VisibilityTimeout time.Duration
	WaitTime          time.Duration
	MaxReceiveCount   int
	DrainTimeout      time.Duration
	// HandlerTimeout bounds one message (default 15m): a hung S3 or
	// provider call cannot hold a slot forever while heartbeats hide it.
	HandlerTimeout time.Duration
	BackoffBase    time.Duration
	BackoffMax     time.Duration

	// WrapSource, if set, wraps the SQS source (fault injection in tests
	// and chaos runs).
	WrapSource func(worker.Source) worker.Source

	// OpsAddr serves /metrics, /healthz, /readyz ("" disables).
	OpsAddr string
	// OnListening, if set, is called with the ops server's address.
	OnListening func(net.Addr)
}

// S3API is what the worker needs of S3: reads for documents, and writes of
// intermediate objects for Step Functions tasks.
type S3API interface {
	objects.API
	sfntask.S3API
}

func (c Config) validate() error {
	if err := c.validateStages(); err != nil {
		return err
	}
	switch {
	case c.QueueURL == "":
		return errors.New("service: queue URL required")
	case c.SQS == nil:
		return errors.New("service: SQS client required")
	case c.TaskQueueURL != "" && c.SFN == nil:
		return errors.New("service: a task queue needs a Step Functions client")
	}
	return nil
}

// validateStages checks what the worker and the Lambda task function both
// run on.
func (c Config) validateStages() error {
	switch {
	case c.DatabaseURL == "":
		return errors.New("service: database URL required")
	case c.Verifier == nil || c.S3 == nil || c.Embedder == nil:
		return errors.New("service: verifier, S3 and embedder required")
	}
	return nil
}

// Run runs the worker until ctx is cancelled, then drains.
func Run(ctx context.Context, cfg Config, logger *zap.Logger) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var opsSrv *ops.Server
	if cfg.OpsAddr != "" {
		var err error
		if opsSrv, err = ops.New(ops.Config{Addr: cfg.OpsAddr}, reg, logger); err != nil {
			return err
		}
		addr, err := opsSrv.Listen()
		if err != nil {
			return err
		}
		if cfg.OnListening != nil {
			cfg.OnListening(addr)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	if opsSrv != nil {
		g.Go(func() error { return opsSrv.Run(gctx) })
	}
	g.Go(func() error {
		err := runWorker(gctx, cfg, reg, opsSrv, logger)
		if err != nil {
			return err
		}
		return nil
	})
	err := g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// stages opens what both the worker and the Lambda task function run on: the
// tenant gateway (its preflight refuses roles that could bypass RLS) and the
// extractor. closeAll releases them.
func stages(ctx context.Context, cfg Config, logger *zap.Logger) (db *tenantdb.DB, ex *extract.Extractor, closeAll func(), err error) {
	db, err = tenantdb.Open(ctx, tenantdb.Config{URL: cfg.DatabaseURL, MaxConns: cfg.DBMaxConns, Logger: logger})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("service: database: %w", err)
	}
	ex, err = extract.New(cfg.Extract, logger)
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return db, ex, func() { _ = ex.Close(); db.Close() }, nil
}

func runWorker(ctx context.Context, cfg Config, reg *prometheus.Registry, opsSrv *ops.Server, logger *zap.Logger) error {
	db, ex, closeAll, err := stages(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeAll()
	// Embedding slots are shared fairly between tenants: a tenant with a
	// large backlog cannot starve one with a few documents.
	sched, err := fair.New(max(cfg.Concurrency, 1))
	if err != nil {
		return err
	}
	cfg.Embedder = sched.Embedder(cfg.Embedder)
	ch, err := chunk.New(cfg.Chunk, logger)
	if err != nil {
		return err
	}
	obj := objects.New(cfg.S3)
	h, err := ingest.New(ingest.Config{Buckets: cfg.Buckets, Limits: cfg.Limits}, ingest.Deps{
		DB: db, Verifier: cfg.Verifier, Objects: obj, Store: pgstore.New(db, logger),
		Processor: &pipeline.Processor{Fetcher: obj, Extractor: ex, Chunker: ch, Embedder: cfg.Embedder},
		Metrics:   ingest.NewMetrics(reg), Logger: logger,
	})
	if err != nil {
		return err
	}
	src, err := sqssource.New(sqssource.Config{QueueURL: cfg.QueueURL, DLQURL: cfg.DLQURL,
		WaitTime: cfg.WaitTime, VisibilityTimeout: cfg.VisibilityTimeout}, cfg.SQS, logger)
	if err != nil {
		return err
	}
	var source worker.Source = src
	if cfg.WrapSource != nil {
		source = cfg.WrapSource(src)
		if _, ok := source.(worker.MaxReceiveCounter); !ok {
			// Keep the queue's redrive limit visible to the runner.
			source = struct {
				worker.Source
				worker.MaxReceiveCounter
			}{source, src}
		}
	}
	metrics, err := worker.NewMetrics(reg)
	if err != nil {
		return err
	}
	runner, err := worker.New(worker.Config{
		Metrics: metrics, Source: source, Handler: worker.Chain(h, worker.Timeout(handlerTimeout(cfg))), Finalizer: h,
		BackoffBase: cfg.BackoffBase, BackoffMax: cfg.BackoffMax, Name: "documents",
		Concurrency: cfg.Concurrency, Pollers: cfg.Pollers, VisibilityTimeout: cfg.VisibilityTimeout,
		MaxReceiveCount: cfg.MaxReceiveCount, DrainTimeout: cfg.DrainTimeout,
		Logger: logger,
	})
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runner.Run(gctx) })
	if cfg.TaskQueueURL != "" {
		tasks, err := taskRunner(cfg, db, ex, ch, metrics, logger)
		if err != nil {
			return err
		}
		g.Go(func() error { return tasks.Run(gctx) })
	}
	if opsSrv != nil {
		opsSrv.SetReady(true) // preflight passed in tenantdb.Open
		defer opsSrv.SetReady(false)
	}
	logger.Info("worker started", zap.Int("concurrency", cfg.Concurrency), zap.String("embedding_model", cfg.Embedder.Model()),
		zap.Bool("step_functions_tasks", cfg.TaskQueueURL != ""))
	return g.Wait()
}

// taskHandler is the Step Functions task handler on the given stages and
// gateway.
func taskHandler(cfg Config, db *tenantdb.DB, ex pipeline.Extractor, ch pipeline.Chunker, logger *zap.Logger) (*sfntask.Handler, error) {
	return sfntask.New(sfntask.Config{Buckets: cfg.Buckets, Limits: cfg.Limits}, sfntask.Deps{
		DB: db, Verifier: cfg.Verifier, Store: pgstore.New(db, logger), S3: cfg.S3, SFN: cfg.SFN,
		Extractor: ex, Chunker: ch, Embedder: cfg.Embedder, Logger: logger,
	})
}

// RunLambda serves the Express state machine's tasks as an AWS Lambda
// function (internal/sfnlambda) on the worker's stages and gateway. Only the
// database, S3, SFN, verifier, embedder, extract, chunk and limit settings of
// cfg apply. It does not return once serving: the Lambda runtime ends the
// process.
func RunLambda(ctx context.Context, cfg Config, logger *zap.Logger) error {
	if err := cfg.validateStages(); err != nil {
		return err
	}
	if cfg.SFN == nil {
		return errors.New("service: Step Functions client required")
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	db, ex, closeAll, err := stages(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeAll()
	ch, err := chunk.New(cfg.Chunk, logger)
	if err != nil {
		return err
	}
	h, err := taskHandler(cfg, db, ex, ch, logger)
	if err != nil {
		return err
	}
	logger.Info("serving Step Functions tasks as a Lambda function", zap.String("embedding_model", cfg.Embedder.Model()))
	sfnlambda.Start(ctx, h)
	return nil
}

// taskRunner runs Step Functions tasks from the task queue with the same
// stages and gateway as the document runner.
func taskRunner(cfg Config, db *tenantdb.DB, ex pipeline.Extractor, ch pipeline.Chunker, metrics *worker.Metrics, logger *zap.Logger) (*worker.Runner, error) {
	h, err := taskHandler(cfg, db, ex, ch, logger)
	if err != nil {
		return nil, err
	}
	src, err := sqssource.New(sqssource.Config{QueueURL: cfg.TaskQueueURL, DLQURL: cfg.TaskDLQURL,
		WaitTime: cfg.WaitTime, VisibilityTimeout: cfg.VisibilityTimeout}, cfg.SQS, logger)
	if err != nil {
		return nil, err
	}
	return worker.New(worker.Config{
		Source: src, Handler: worker.Chain(h, worker.Timeout(handlerTimeout(cfg))), Name: "sfn-tasks", OnHeartbeat: h.OnHeartbeat,
		HeartbeatInterval: min(sfntask.HeartbeatInterval, cfg.VisibilityTimeout/3),
		Concurrency:       cfg.Concurrency, Pollers: cfg.Pollers, VisibilityTimeout: cfg.VisibilityTimeout,
		MaxReceiveCount: cfg.MaxReceiveCount, DrainTimeout: cfg.DrainTimeout, BackoffBase: cfg.BackoffBase,
		BackoffMax: cfg.BackoffMax, Metrics: metrics, Logger: logger,
	})
}

func handlerTimeout(cfg Config) time.Duration {
	if cfg.HandlerTimeout > 0 {
		return cfg.HandlerTimeout
	}
	return 15 * time.Minute
}
