package sqssource_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/worker"
	"github.com/tenantry/tenantry/worker/workertest"
)

// BenchmarkRunnerThroughput measures the runner with a no-op handler: b.N
// messages are pre-loaded (untimed), then timed from Run until every one is
// deleted. "sqs" runs against the local SQS server through the real SDK
// client; "memory" is the in-memory source, the runner's own ceiling, in the
// same run. Reported as msgs/s. Use a fixed count for comparable numbers:
//
//	go test -run '^$' -bench RunnerThroughput -benchtime 5000x ./internal/sqssource/
func BenchmarkRunnerThroughput(b *testing.B) {
	sources := []struct {
		name  string
		setup func(b *testing.B, n int) worker.Source
	}{
		{"sqs", func(b *testing.B, n int) worker.Source {
			client := sqsClient(b)
			q, dlq := newQueues(b, client, 5)
			h := newHarness(b, client, q, dlq)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			if err := h.sendBatch(ctx, n, `{"bench":true}`); err != nil {
				b.Fatal(err)
			}
			src, err := sqssource.New(sqssource.Config{QueueURL: q, DLQURL: dlq, VisibilityTimeout: time.Minute}, client, nil)
			if err != nil {
				b.Fatal(err)
			}
			return src
		}},
		{"memory", func(b *testing.B, n int) worker.Source {
			src := workertest.NewSource(workertest.Config{VisibilityTimeout: time.Minute, WaitTime: time.Second})
			for range n {
				src.Push([]byte(`{"bench":true}`), nil)
			}
			return src
		}},
	}
	for _, s := range sources {
		for _, shape := range []struct{ concurrency, pollers int }{{10, 2}, {64, 4}} {
			b.Run(fmt.Sprintf("%s/concurrency=%d/pollers=%d", s.name, shape.concurrency, shape.pollers), func(b *testing.B) {
				src := s.setup(b, b.N)
				r, err := worker.New(worker.Config{
					Source:            src,
					Handler:           worker.HandlerFunc(func(context.Context, *worker.Message) error { return nil }),
					Concurrency:       shape.concurrency,
					Pollers:           shape.pollers,
					VisibilityTimeout: time.Minute,
				})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				b.ResetTimer()
				began := time.Now()
				go func() { done <- r.Run(ctx) }()
				for r.Stats().Acked < int64(b.N) {
					time.Sleep(time.Millisecond)
				}
				elapsed := time.Since(began)
				b.StopTimer()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			})
		}
	}
}
