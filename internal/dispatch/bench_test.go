package dispatch_test

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/dispatch"
)

// starvation runs the scenario on one worker's slots: tenant A has
// a backlog of `backlog` jobs queued first, then tenant C submits 20; every
// job holds a slot for `work`. It returns C's p99 submit→done latency. With
// fifo, every job is one tenant (arrival order: what the SQS runner did
// before); without, each job is dispatched as its tenant.
func starvation(b *testing.B, backlog int, fifo bool, work time.Duration) time.Duration {
	s, err := dispatch.New(8)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	id := func(t string) string {
		if fifo {
			return "all"
		}
		return t
	}
	var wg sync.WaitGroup
	run := func(tenant string, lat *time.Duration) {
		start := time.Now()
		rel, err := s.Acquire(ctx, id(tenant), dispatch.Share{Weight: 1})
		if err != nil {
			b.Error(err)
			return
		}
		time.Sleep(work)
		rel()
		if lat != nil {
			*lat = time.Since(start)
		}
	}
	for range backlog {
		wg.Go(func() { run("a", nil) })
	}
	// C submits once A's backlog is queued.
	for s.Stats().Busy < 8 && backlog > 0 {
		time.Sleep(time.Millisecond)
	}
	lats := make([]time.Duration, 20)
	var cwg sync.WaitGroup
	for i := range lats {
		cwg.Go(func() { run("c", &lats[i]) })
	}
	cwg.Wait()
	wg.Wait()
	slices.Sort(lats)
	return lats[len(lats)-1] // p99 of 20 is the maximum
}

// BenchmarkStarvation reports tenant C's p99 latency with a backlogged
// tenant A, as a ratio to C alone in the same run: with fair dispatch
// (c_p99_fair/alone) and in arrival order (c_p99_fifo/alone). The issue's
// bound is 2x. Short by default (A: 1,000 jobs); TENANTRY_BENCH=full runs
// A's 10,000.
func BenchmarkStarvation(b *testing.B) {
	backlog, work := 1000, 200*time.Microsecond
	if os.Getenv("TENANTRY_BENCH") == "full" {
		backlog = 10000
	}
	var alone, fair, fifo time.Duration
	for b.Loop() {
		alone += starvation(b, 0, false, work)
		fair += starvation(b, backlog, false, work)
		fifo += starvation(b, backlog, true, work)
	}
	b.ReportMetric(float64(fair)/float64(alone), "c_p99_fair/alone")
	b.ReportMetric(float64(fifo)/float64(alone), "c_p99_fifo/alone")
}
