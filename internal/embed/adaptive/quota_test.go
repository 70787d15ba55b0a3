package adaptive_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/embed"
	"github.com/tenantry/tenantry/internal/embed/adaptive"
	"github.com/tenantry/tenantry/internal/embed/openai"
	"github.com/tenantry/tenantry/internal/embed/openai/openaitest"
)

// load runs callers that embed one text per request, as fast as the
// embedder lets them, until ctx ends.
func load(ctx context.Context, e *embed.Embedder, callers int) {
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				_, _ = e.Embed(ctx, []string{fmt.Sprintf("caller %d text %d", i, n)})
			}
		})
	}
	wg.Wait()
}

func newQuotaEmbedder(t testing.TB, url string, lim *adaptive.Limiter) *embed.Embedder {
	t.Helper()
	c, err := openai.New(openai.Config{BaseURL: url, Model: "m", Dimensions: 8, MaxInputs: 1})
	if err != nil {
		t.Fatal(err)
	}
	e, err := embed.New(c, embed.Config{Limiter: lim, MaxAttempts: 1000, BaseBackoff: 20 * time.Millisecond, MaxBackoff: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestAdaptsToQuota is the short, behaviour-only version of
// TestProviderLimit: against a quota the limiter cuts its rate after 429s,
// and once the quota is lifted it grows again.
func TestAdaptsToQuota(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(openaitest.Options{Quota: 40, Latency: 5 * time.Millisecond})
	defer srv.Close()
	lim, err := adaptive.New(adaptive.Config{InitialRate: 20, MaxConcurrency: 16, Increase: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	e := newQuotaEmbedder(t, srv.URL, lim)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { load(ctx, e, 16); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor(t, 20*time.Second, "a rate cut after 429s", func() bool {
		s := lim.Stats()
		return s.Decreases >= 1 && !s.SlowStart && srv.Stats().Throttled >= 1
	})
	cut := lim.Stats().Rate
	srv.SetQuota(0, 0) // unlimited
	waitFor(t, 30*time.Second, "the rate to recover above the cut", func() bool {
		return lim.Stats().Rate > cut*1.05
	})
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProviderLimit measures how close the adaptive embedder gets to a
// provider's request quota Q (token bucket, burst Q/10, 429 + Retry-After
// beyond it) with latency L, and how many requests it gets throttled.
// It takes about a minute per row: run it with TENANTRY_LONG=1 (optionally
// TENANTRY_LONG_SECONDS=<seconds per row>, default 40).
func TestProviderLimit(t *testing.T) {
	if os.Getenv("TENANTRY_LONG") == "" {
		t.Skip("long test: set TENANTRY_LONG=1")
	}
	secs := 40
	if v, err := strconv.Atoi(os.Getenv("TENANTRY_LONG_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	rows := []struct {
		q float64
		l time.Duration
	}{{20, 50 * time.Millisecond}, {50, 20 * time.Millisecond}, {100, 100 * time.Millisecond}, {200, 10 * time.Millisecond}}
	warm := 5 * time.Second
	t.Logf("%d s per row, attained/Q and throttle rate over the whole run and after %v of warm-up", secs, warm)
	t.Logf("%8s %8s | %10s %10s | %10s %10s | %8s", "Q (r/s)", "L", "attained/Q", "throttled", "steady/Q", "throttled", "rate")
	for _, r := range rows {
		srv := openaitest.New(openaitest.Options{Quota: r.q, Latency: r.l})
		lim, err := adaptive.New(adaptive.Config{})
		if err != nil {
			t.Fatal(err)
		}
		e := newQuotaEmbedder(t, srv.URL, lim)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
		var atWarm openaitest.Stats
		timer := time.AfterFunc(warm, func() { atWarm = srv.Stats() })
		begin := time.Now()
		load(ctx, e, 64)
		elapsed := time.Since(begin)
		cancel()
		timer.Stop()
		end := srv.Stats()
		srv.Close()
		whole := float64(end.Accepted) / elapsed.Seconds() / r.q
		wholeThr := float64(end.Throttled) / float64(max(1, end.Requests))
		steady := float64(end.Accepted-atWarm.Accepted) / (elapsed - warm).Seconds() / r.q
		steadyThr := float64(end.Throttled-atWarm.Throttled) / float64(max(1, end.Requests-atWarm.Requests))
		t.Logf("%8.0f %8v | %9.1f%% %9.2f%% | %9.1f%% %9.2f%% | %8.1f", r.q, r.l, 100*whole, 100*wholeThr, 100*steady, 100*steadyThr, lim.Stats().Rate)
		if steady < 0.9 || steadyThr > 0.01 {
			t.Errorf("Q=%v L=%v: steady %.1f%% of Q with %.2f%% throttled; target >= 90%% and <= 1%%", r.q, r.l, 100*steady, 100*steadyThr)
		}
	}
}
