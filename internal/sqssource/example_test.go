package sqssource_test

import (
	"context"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/tenantry/tenantry/internal/ops"
	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/worker"
)

// The wiring of a worker process: SQS source, runner, metrics and health
// endpoints, drain on SIGTERM. (Compiled, not run: it needs AWS.)
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := zap.NewExample()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal("aws config", zap.Error(err))
	}
	const visibility = 60 * time.Second
	src, err := sqssource.New(sqssource.Config{
		QueueURL:          "https://sqs.us-east-1.amazonaws.com/123456789012/tenantry-jobs",
		DLQURL:            "https://sqs.us-east-1.amazonaws.com/123456789012/tenantry-jobs-dlq",
		VisibilityTimeout: visibility,
	}, sqs.NewFromConfig(awsCfg), log)
	if err != nil {
		log.Fatal("source", zap.Error(err))
	}
	reg := prometheus.NewRegistry()
	metrics, err := worker.NewMetrics(reg)
	if err != nil {
		log.Fatal("metrics", zap.Error(err))
	}
	handler := worker.HandlerFunc(func(ctx context.Context, m *worker.Message) error {
		worker.Logger(ctx).Info("handling")
		return nil
	})
	runner, err := worker.New(worker.Config{
		Source: src, Handler: worker.Chain(handler, worker.Timeout(15*time.Minute)),
		Concurrency: 16, VisibilityTimeout: visibility, MaxReceiveCount: 5,
		Metrics: metrics, Logger: log,
	})
	if err != nil {
		log.Fatal("runner", zap.Error(err))
	}
	health, err := ops.New(ops.Config{Addr: ":9090"}, reg, log)
	if err != nil {
		log.Fatal("ops", zap.Error(err))
	}

	// Preflight: the queues exist and the redrive policy leaves the
	// runner room to dead-letter with reasons.
	info, err := src.Inspect(ctx)
	if err != nil || info.RedriveMaxReceiveCount != 0 && info.RedriveMaxReceiveCount < 5 {
		log.Fatal("preflight", zap.Error(err))
	}
	health.SetReady(true)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return health.Run(gctx) })
	g.Go(func() error {
		defer health.SetReady(false)
		return runner.Run(gctx) // returns after the drain
	})
	if err := g.Wait(); err != nil {
		log.Error("worker", zap.Error(err))
	}
}
