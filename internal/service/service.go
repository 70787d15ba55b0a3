package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/internal/dispatch"
	"github.com/tenantry/tenantry/internal/embed/fair"
	"github.com/tenantry/tenantry/internal/emf"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/internal/ingest"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/ops"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/sfnlambda"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/internal/telemetry"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantlimits"
	"github.com/tenantry/tenantry/internal/usage"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Config is the settings of `tenantry worker` and `tenantry lambda`: values
// only, no clients. Run builds every dependency from it (Deps overrides some
// in tests).
type Config struct {
	AWS   AWS
	Trust Trust
	Embed Embedding

	DatabaseURL string
	DBMaxConns  int32
	// DatabaseIAMAuth logs in with an RDS IAM token per connection (the
	// URL then carries no password).
	DatabaseIAMAuth bool

	QueueURL string
	DLQURL   string
	Buckets  []string

	// TaskQueueURL, if set, also runs the Step Functions task worker on
	// this queue (SQS waitForTaskToken tasks), answering through SFN.
	TaskQueueURL string
	TaskDLQURL   string

	Extract extract.Config
	Chunk   chunk.Config
	Limits  pipeline.Limits
	// GroupDocs bounds the small documents of one tenant whose final
	// writes share a transaction (pgstore.GroupConfig.MaxDocs; 0: the
	// default 16; 1 or less: every document writes alone).
	GroupDocs int
	// GroupWriters bounds the groups written at once
	// (pgstore.GroupConfig.Writers; 0: the default 2).
	GroupWriters int
	// GroupReserve is how many grouped writes more may run at once for
	// tenants none of whose groups is being written
	// (pgstore.GroupConfig.Reserve; 0: none).
	GroupReserve int

	Concurrency int
	// FairCredit is the wake-up credit of fair dispatch, in rounds of
	// Concurrency grants (dispatch.Config.Credit): how far ahead of a
	// backlogged tenant one that starts waiting may run (0: the default,
	// dispatch.DefaultCredit; negative: none).
	FairCredit int
	// FairReserve is how many runs beyond Concurrency are kept for tenants
	// running fewer than that many (dispatch.Config.Reserve), so one
	// arriving next to backlogs that hold every slot starts at once (0: a
	// quarter of Concurrency, at least 1; negative: none).
	FairReserve       int
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

	// OpsAddr serves /metrics, /healthz, /readyz ("" disables).
	OpsAddr string

	// Prefetch is how many messages the worker holds beyond Concurrency,
	// waiting for their tenant's turn (default Concurrency; negative: 0).
	Prefetch int
	// Hold is how many more messages the worker receives to hold, before
	// verifying them, while the tenant their key names already has a
	// backlog here (tenantlimits.Intake; default 2,048 x Concurrency;
	// negative: 0). A held message costs no goroutine, about 3 KB of
	// memory (the message as received) and a tenth of a visibility
	// extension per heartbeat interval (batched).
	Hold int
	// ParkRate is how many messages a second, at most, the worker parks
	// of one tenant whose breaker is open, out of those it holds for that
	// tenant (tenantlimits.IntakeConfig.ParkEvery): parking is background
	// work, and verifying, HEADing and writing a failing tenant's backlog
	// all at once slowed every other tenant's documents (default 20;
	// negative: not paced).
	ParkRate int
	// LimitsRefresh is how long a worker trusts the tenant limits it read
	// (default 5s).
	LimitsRefresh time.Duration
	// UsageFlush is how often the worker writes its tenants' provider
	// usage tallies (default 10s; the last tallies are written at stop).
	UsageFlush time.Duration

	// Telemetry turns OpenTelemetry tracing on (OTLP/HTTP; off by default).
	Telemetry telemetry.Config
	// EMFInterval, if positive, writes the metrics as CloudWatch embedded
	// metric format lines to EMFOutput at this interval.
	EMFInterval time.Duration
	// EMFNamespace is their CloudWatch namespace (default "tenantry").
	EMFNamespace string

	// Breaker tunes every tenant's circuit breaker (internal/breaker).
	Breaker breaker.Config
	// NoBreaker turns the per-tenant breakers off (nothing is parked or
	// released; parked messages wait).
	NoBreaker bool
}

// Deps are dependencies Run would otherwise build from the Config: tests
// and chaos runs inject fakes and hooks here. Zero fields are built.
type Deps struct {
	Verifier *envelope.Verifier
	S3       S3API
	SQS      sqssource.API
	SFN      sfntask.SFNAPI
	Embedder pipeline.Embedder

	// WrapSource, if set, wraps the SQS source (fault injection in tests
	// and chaos runs).
	WrapSource func(worker.Source) worker.Source
	// EMFOutput receives the embedded-metric-format lines (default
	// os.Stdout).
	EMFOutput io.Writer
	// OnListening, if set, is called with the ops server's address.
	OnListening func(net.Addr)
}

// S3API is what the worker needs of S3: reads for documents, and writes of
// intermediate objects for Step Functions tasks.
type S3API interface {
	objects.API
	sfntask.S3API
}

func (c Config) withDefaults() Config {
	switch {
	case c.Prefetch == 0:
		c.Prefetch = max(c.Concurrency, 1)
	case c.Prefetch < 0:
		c.Prefetch = 0
	}
	switch {
	case c.Hold == 0:
		c.Hold = 2048 * max(c.Concurrency, 1)
	case c.Hold < 0:
		c.Hold = 0
	}
	if c.HandlerTimeout <= 0 {
		c.HandlerTimeout = 15 * time.Minute
	}
	if c.GroupDocs == 0 {
		c.GroupDocs = 16
	}
	if c.Extract.PDFCacheDir == "" {
		c.Extract.PDFCacheDir = pdfCacheDir()
	}
	c.Limits = c.Limits.WithDefaults()
	if c.Extract.SpoolDir == "" {
		c.Extract.SpoolDir = c.Limits.SpoolDir // a DOCX or PDF not already in a file section; the decoded source of large HTML and Markdown
	}
	if c.Extract.MaxTextBytes == 0 {
		// The text limit follows the chunk cap: text past what MaxChunks
		// chunks can hold is refused while it is read, not after chunking.
		// Plain text and PDFs stream (memory holds a block or a page, not
		// the text); the other formats are bounded by the document size
		// (MaxBytes) and their decompression limit.
		c.Extract.MaxTextBytes = c.Chunk.TextBytesFor(c.Limits.MaxChunks)
	}
	return c
}

func (c Config) validate(worker bool) error {
	switch {
	case c.DatabaseURL == "":
		return errors.New("service: database URL required")
	case worker && c.QueueURL == "":
		return errors.New("service: queue URL required")
	}
	return nil
}

// build fills the dependencies d lacks from cfg; reg (may be nil) gets the
// embedder's metrics.
func (d Deps) build(ctx context.Context, cfg Config, logger *zap.Logger, reg prometheus.Registerer) (Deps, error) {
	var err error
	if d.Verifier == nil {
		if d.Verifier, err = cfg.Trust.Verifier(ctx, cfg.AWS, logger); err != nil {
			return d, err
		}
	}
	if d.S3 == nil {
		if d.S3, err = cfg.AWS.S3(ctx); err != nil {
			return d, err
		}
	}
	if d.SQS == nil {
		if d.SQS, err = cfg.AWS.SQS(ctx); err != nil {
			return d, err
		}
	}
	if d.SFN == nil {
		if d.SFN, err = cfg.AWS.SFN(ctx); err != nil {
			return d, err
		}
	}
	if d.Embedder == nil {
		if d.Embedder, err = cfg.Embed.embedder(ctx, cfg.AWS, logger, reg); err != nil {
			return d, err
		}
	}
	return d, nil
}

// pdfCacheDir is the user cache directory for the compiled PDFium, so
// restarts load it in ~0.1 s; "" (no writable cache) compiles it in memory
// at the first PDF of each process.
func pdfCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	dir := filepath.Join(base, "tenantry", "pdfium")
	if os.MkdirAll(dir, 0o700) != nil {
		return ""
	}
	return dir
}

// prepare applies cfg's defaults, validates it (worker: with the queue
// settings) and builds the dependencies deps lacks.
func prepare(ctx context.Context, cfg Config, deps Deps, logger *zap.Logger, worker bool, reg prometheus.Registerer) (Config, Deps, *zap.Logger, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(worker); err != nil {
		return cfg, deps, logger, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	deps, err := deps.build(ctx, cfg, logger, reg)
	return cfg, deps, logger, err
}

// Run runs the worker until ctx is cancelled, then drains. Dependencies
// missing from deps are built from cfg.
func Run(ctx context.Context, cfg Config, deps Deps, logger *zap.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg, deps, logger, err := prepare(ctx, cfg, deps, logger, true, reg)
	if err != nil {
		return err
	}
	shutdown, err := telemetry.Setup(ctx, cfg.Telemetry, logger)
	if err != nil {
		return err
	}
	defer flushTraces(shutdown, logger)

	var opsSrv *ops.Server
	if cfg.OpsAddr != "" {
		if opsSrv, err = ops.New(ops.Config{Addr: cfg.OpsAddr}, reg, logger); err != nil {
			return err
		}
		addr, err := opsSrv.Listen()
		if err != nil {
			return err
		}
		if deps.OnListening != nil {
			deps.OnListening(addr)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	if opsSrv != nil {
		g.Go(func() error { return opsSrv.Run(gctx) })
	}
	if cfg.EMFInterval > 0 {
		w := emf.New(emf.Config{Interval: cfg.EMFInterval, Namespace: cfg.EMFNamespace, Output: deps.EMFOutput}, reg, logger)
		g.Go(func() error { return w.Run(gctx) })
	}
	g.Go(func() error { return runWorker(gctx, cfg, deps, reg, opsSrv, logger) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// stages opens what both the worker and the Lambda task function run on: the
// tenant gateway (its preflight refuses roles that could bypass RLS), the
// extractor and the chunker. closeAll releases them.
func openStages(ctx context.Context, cfg Config, logger *zap.Logger) (*stages, error) {
	pw, err := cfg.AWS.databasePassword(ctx, cfg.DatabaseIAMAuth)
	if err != nil {
		return nil, err
	}
	db, err := tenantdb.Open(ctx, tenantdb.Config{URL: cfg.DatabaseURL, MaxConns: cfg.DBMaxConns, Password: pw, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("service: database: %w", err)
	}
	ex, err := extract.New(cfg.Extract, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	ch, err := chunk.New(cfg.Chunk, logger)
	if err != nil {
		_ = ex.Close()
		db.Close()
		return nil, err
	}
	return &stages{db: db, ex: ex, ch: ch}, nil
}

// stages are the gateway and the pipeline stages both transports share.
type stages struct {
	db *tenantdb.DB
	ex *extract.Extractor
	ch pipeline.Chunker
}

func (s *stages) close() { _ = s.ex.Close(); s.db.Close() }

// setting is the value of a setting where 0 asks for the default def and a
// negative value for none (0).
func setting(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// parkEvery is the intake's pacing of a parking tenant cfg asks for.
func (c Config) parkEvery() time.Duration {
	switch {
	case c.ParkRate < 0:
		return -1
	case c.ParkRate == 0:
		return tenantlimits.DefaultParkEvery
	}
	return time.Second / time.Duration(c.ParkRate)
}

// fairReserve is the reserve of fair dispatch cfg asks for.
func (cfg Config) fairReserve() int {
	return min(setting(cfg.FairReserve, max(cfg.Concurrency/4, 1)), max(cfg.Concurrency, 1))
}

func runWorker(ctx context.Context, cfg Config, deps Deps, reg *prometheus.Registry, opsSrv *ops.Server, logger *zap.Logger) error {
	st, err := openStages(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.close()
	if err := reg.Register(st.db.Collector()); err != nil {
		return err
	}
	// Embedding slots are shared fairly between tenants: a tenant with a
	// large backlog cannot starve one with a few documents.
	sched, err := fair.New(max(cfg.Concurrency, 1))
	if err != nil {
		return err
	}
	// Each tenant's provider budget is waited for outside the shared
	// embedding slots: a tenant over budget holds none.
	var meter *usage.Meter
	deps.Embedder, meter = budgeted(sched.Embedder(deps.Embedder), st.db, logger)
	// Verified messages share the worker's slots by weighted round-robin
	// over tenants; the runner receives Prefetch more messages than that, so
	// a backlogged tenant waits in its own queue while others' run.
	fairSlots, err := dispatch.NewWith(dispatch.Config{Slots: max(cfg.Concurrency, 1),
		Credit: setting(cfg.FairCredit, dispatch.DefaultCredit), Reserve: cfg.fairReserve()})
	if err != nil {
		return err
	}
	// A tenant with half the prefetch already waiting here is backlogged:
	// its next messages are deferred (parked, fed back in order as its share
	// allows), so the poller reaches the messages of others behind them.
	limits := tenantlimits.NewCache(st.db, cfg.LimitsRefresh)
	dispatcher := &tenantlimits.Dispatcher{Scheduler: fairSlots, Limits: limits,
		DeferAfter: max(cfg.Prefetch/2, 1), Wait: tenantlimits.NewDispatchWait(reg)}
	// Messages of a tenant with a backlog here wait before the gate (no
	// HEAD, no verification, no deferral) until it has room; the runner
	// receives Hold more messages for them.
	intake := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: dispatcher.DeferAfter, Hold: cfg.Hold, ParkEvery: cfg.parkEvery()})
	obj := objects.New(deps.S3)
	var (
		brk      *breaker.Breaker
		releaser *breaker.Releaser
	)
	if !cfg.NoBreaker {
		if brk, err = breaker.New(cfg.Breaker, st.db, breaker.NewMetrics(reg), logger); err != nil {
			return err
		}
		sender := breaker.SQSSender{API: deps.SQS, QueueURL: cfg.QueueURL}
		if releaser, err = breaker.NewReleaser(brk, st.db, gate(cfg, deps), sender); err != nil {
			return err
		}
		// Deferred work is fed back only to a tenant with room: none of its
		// messages waiting for a slot or held in the intake.
		releaser.SetReady(func(t uuid.UUID) bool { return dispatcher.Ready(t) && intake.Holding(t.String()) == 0 })
	}
	h, err := ingest.New(ingest.Config{Limits: cfg.Limits}, ingest.Deps{
		DB: st.db, Gate: gate(cfg, deps), Objects: obj, Store: pgstore.New(st.db, logger).Group(pgstore.GroupConfig{MaxDocs: cfg.GroupDocs, Writers: cfg.GroupWriters, Reserve: cfg.GroupReserve}),
		Processor: &pipeline.Processor{Fetcher: obj, Extractor: st.ex, Chunker: st.ch, Embedder: deps.Embedder,
			Observer: stageObserver(cfg.Telemetry)},
		Metrics: ingest.NewMetrics(reg), Logger: logger, Breaker: brk, Dispatch: dispatcher,
		Intake: intake,
	})
	if err != nil {
		return err
	}
	src, err := sqssource.New(sqssource.Config{QueueURL: cfg.QueueURL, DLQURL: cfg.DLQURL,
		WaitTime: cfg.WaitTime, VisibilityTimeout: cfg.VisibilityTimeout}, deps.SQS, logger)
	if err != nil {
		return err
	}
	var source worker.Source = src
	if deps.WrapSource != nil {
		source = deps.WrapSource(src)
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
		Metrics: metrics, Source: source, Handler: worker.Chain(h, worker.Timeout(cfg.HandlerTimeout)), Finalizer: h,
		// Held messages wait in the intake with no goroutine of their own;
		// the runner gives them back to the queue when it drains.
		Admitter:    h.Admitter(),
		BackoffBase: cfg.BackoffBase, BackoffMax: cfg.BackoffMax, Name: "documents",
		Concurrency: max(cfg.Concurrency, 1) + fairSlots.Reserve() + cfg.Prefetch + cfg.Hold, Pollers: cfg.Pollers, VisibilityTimeout: cfg.VisibilityTimeout,
		// While the intake holds messages, a backlog is coming in: four
		// times the pollers reach the other tenants' messages behind it
		// sooner (held messages cost no HEAD, verification or transaction).
		ExtraPollers: 3 * max(cfg.Pollers, worker.DefaultPollers), Burst: func() bool { return intake.Held() > 0 },
		MaxReceiveCount: cfg.MaxReceiveCount, DrainTimeout: cfg.DrainTimeout,
		Logger: logger,
	})
	if err != nil {
		return err
	}
	// The meter outlives the runner's drain: its last flush runs after the
	// last job has finished (deferred, so every return path waits for it).
	meterCtx, stopMeter := context.WithCancel(context.WithoutCancel(ctx))
	meterDone := make(chan struct{})
	go func() { defer close(meterDone); _ = meter.Run(meterCtx, cfg.UsageFlush) }()
	defer func() { stopMeter(); <-meterDone }()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runner.Run(gctx) })
	if releaser != nil {
		g.Go(func() error { return releaser.Run(gctx) })
	}
	if cfg.TaskQueueURL != "" {
		tasks, err := taskRunner(cfg, deps, st, brk, limits, metrics, logger)
		if err != nil {
			return err
		}
		g.Go(func() error { return tasks.Run(gctx) })
	}
	if opsSrv != nil {
		opsSrv.SetReady(true) // preflight passed in tenantdb.Open
		defer opsSrv.SetReady(false)
	}
	logger.Info("worker started", zap.Int("concurrency", cfg.Concurrency), zap.String("embedding_model", deps.Embedder.Model()),
		zap.Bool("step_functions_tasks", cfg.TaskQueueURL != ""))
	return g.Wait()
}

// stageObserver opens the stage spans when tracing is on (nil otherwise:
// the stages then cost nothing, not even a no-op span).
func stageObserver(c telemetry.Config) pipeline.StageObserver {
	if c.OTLPEndpoint == "" {
		return nil
	}
	return telemetry.Stages{}
}

// flushTraces exports the spans not yet sent, for at most 5 s.
func flushTraces(shutdown func(context.Context) error, logger *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		logger.Warn("flushing traces failed", zap.Error(err))
	}
}

// gate is the one tenant gate of every transport: the same verifier,
// bucket allowlist and S3 reader for the SQS worker and the Step Functions
// tasks.
func gate(cfg Config, deps Deps) *binding.Resolver {
	return &binding.Resolver{Verifier: deps.Verifier, Objects: objects.New(deps.S3), Buckets: cfg.Buckets}
}

// budgeted wraps e in each tenant's provider budget (requests/tokens per
// minute, waited for by work whose context carries the tenant's limits:
// the dispatcher's, tenantlimits.Cache.Scope) and tallies each tenant's
// provider usage (requests, tokens, 429s per minute) in memory into the
// returned meter, which the caller flushes (one scoped transaction per
// tenant, for the operator console). The worker and the Lambda function
// share it.
func budgeted(e pipeline.Embedder, db *tenantdb.DB, logger *zap.Logger) (pipeline.Embedder, *usage.Meter) {
	meter := usage.NewMeter(db, logger)
	return tenantlimits.NewBudget(e).RecordUsage(meter), meter
}

// taskHandler is the Step Functions task handler on the given stages,
// gateway, tenants' breakers (brk nil: none) and limits: a task's embed
// calls wait for its tenant's budget and are tallied (deps.Embedder is
// budgeted).
func taskHandler(cfg Config, deps Deps, st *stages, brk *breaker.Breaker, limits *tenantlimits.Cache, logger *zap.Logger) (*sfntask.Handler, error) {
	return sfntask.New(sfntask.Config{Limits: cfg.Limits}, sfntask.Deps{
		DB: st.db, Gate: gate(cfg, deps), Store: pgstore.New(st.db, logger), S3: deps.S3, SFN: deps.SFN,
		Extractor: st.ex, Chunker: st.ch, Embedder: deps.Embedder, Breaker: brk, Tenants: limits, Logger: logger,
	})
}

// RunLambda serves the Express state machine's tasks as an AWS Lambda
// function (internal/sfnlambda) on the worker's stages and gateway. The
// queue and runner settings of cfg do not apply. It does not return once
// serving: the Lambda runtime ends the process.
func RunLambda(ctx context.Context, cfg Config, deps Deps, logger *zap.Logger) error {
	reg := prometheus.NewRegistry()
	cfg, deps, logger, err := prepare(ctx, cfg, deps, logger, false, reg)
	if err != nil {
		return err
	}
	shutdown, err := telemetry.Setup(ctx, cfg.Telemetry, logger)
	if err != nil {
		return err
	}
	defer flushTraces(shutdown, logger)
	st, err := openStages(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.close()
	// The same breakers as the worker's: a task of an open or paused
	// tenant is refused (the state machine retries it), outcomes count.
	var brk *breaker.Breaker
	if !cfg.NoBreaker {
		if brk, err = breaker.New(cfg.Breaker, st.db, breaker.NewMetrics(reg), logger); err != nil {
			return err
		}
	}
	// As in the worker's task runner: the embed stage waits for its
	// tenant's provider budget and its calls are tallied; the tally is
	// flushed before each invocation returns (flushingInvoker).
	var meter *usage.Meter
	deps.Embedder, meter = budgeted(deps.Embedder, st.db, logger)
	h, err := taskHandler(cfg, deps, st, brk, tenantlimits.NewCache(st.db, cfg.LimitsRefresh), logger)
	if err != nil {
		return err
	}
	logger.Info("serving Step Functions tasks as a Lambda function", zap.String("embedding_model", deps.Embedder.Model()))
	inv := &flushingInvoker{next: h, usage: meter, log: logger}
	if cfg.EMFInterval > 0 {
		// Any positive interval turns metrics on; they are written after
		// each invocation (flushingInvoker), not on a clock.
		if err := reg.Register(st.db.Collector()); err != nil {
			return err
		}
		inv.emf = emf.New(emf.Config{Interval: cfg.EMFInterval, Namespace: cfg.EMFNamespace, Output: deps.EMFOutput}, reg, logger)
	}
	sfnlambda.Start(ctx, inv)
	return nil
}

// taskRunner runs Step Functions tasks from the task queue with the same
// stages and gateway as the document runner.
func taskRunner(cfg Config, deps Deps, st *stages, brk *breaker.Breaker, limits *tenantlimits.Cache, metrics *worker.Metrics, logger *zap.Logger) (*worker.Runner, error) {
	h, err := taskHandler(cfg, deps, st, brk, limits, logger)
	if err != nil {
		return nil, err
	}
	src, err := sqssource.New(sqssource.Config{QueueURL: cfg.TaskQueueURL, DLQURL: cfg.TaskDLQURL,
		WaitTime: cfg.WaitTime, VisibilityTimeout: cfg.VisibilityTimeout}, deps.SQS, logger)
	if err != nil {
		return nil, err
	}
	return worker.New(worker.Config{
		Source: src, Handler: worker.Chain(h, worker.Timeout(cfg.HandlerTimeout)), Name: "sfn-tasks", OnHeartbeat: h.OnHeartbeat,
		HeartbeatInterval: min(sfntask.HeartbeatInterval, cfg.VisibilityTimeout/3),
		Concurrency:       cfg.Concurrency, Pollers: cfg.Pollers, VisibilityTimeout: cfg.VisibilityTimeout,
		MaxReceiveCount: cfg.MaxReceiveCount, DrainTimeout: cfg.DrainTimeout, BackoffBase: cfg.BackoffBase,
		BackoffMax: cfg.BackoffMax, Metrics: metrics, Logger: logger,
	})
}
