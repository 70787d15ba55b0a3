package adaptive

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a manual clock for the controller's arithmetic.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newManual(t *testing.T, cfg Config) (*Limiter, *clock) {
	t.Helper()
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	cfg.now = c.Now
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

// demand marks that a caller had to wait (as Acquire does when paced).
func demand(l *Limiter, now time.Time) {
	l.mu.Lock()
	l.lastWait = now
	l.mu.Unlock()
}

// step advances the clock, with waiting callers, and lets the limiter grow.
func step(l *Limiter, c *clock, d time.Duration) {
	demand(l, c.Now())
	c.Add(d)
	l.mu.Lock()
	l.grow(c.Now())
	l.mu.Unlock()
}

func complete(l *Limiter, c *clock, latency time.Duration, o Outcome) {
	start := c.Now()
	l.mu.Lock()
	l.inFlight++
	l.mu.Unlock()
	c.Add(latency)
	l.release(start, o)
}

func TestSlowStartDoublesThenHalves(t *testing.T) {
	t.Parallel()
	l, c := newManual(t, Config{InitialRate: 4, SlowStartPeriod: 250 * time.Millisecond})
	step(l, c, 250*time.Millisecond)
	step(l, c, 250*time.Millisecond)
	if r := l.Stats().Rate; math.Abs(r-16) > 0.5 {
		t.Fatalf("rate after two periods of slow start = %v, want 16", r)
	}
	complete(l, c, 50*time.Millisecond, Outcome{Throttled: true})
	s := l.Stats()
	if s.SlowStart || s.Decreases != 1 || s.Rate > 8.5 {
		t.Fatalf("after the first throttle: %+v, want slow start over and the rate halved", s)
	}
}

func TestOneDecreasePerRoundTrip(t *testing.T) {
	t.Parallel()
	l, c := newManual(t, Config{InitialRate: 100})
	complete(l, c, 100*time.Millisecond, Outcome{}) // latency 100 ms
	complete(l, c, 100*time.Millisecond, Outcome{Throttled: true})
	r := l.Stats().Rate
	for range 10 { // the rest of the same burst, within one round trip
		complete(l, c, time.Millisecond, Outcome{Throttled: true})
	}
	if s := l.Stats(); s.Decreases != 1 || s.Rate != r || s.Throttles != 11 {
		t.Fatalf("%+v: want one decrease for one burst", s)
	}
	c.Add(200 * time.Millisecond)
	complete(l, c, time.Millisecond, Outcome{Throttled: true})
	if s := l.Stats(); s.Decreases != 2 || math.Abs(s.Rate-r*0.9) > 1e-9 {
		t.Fatalf("%+v: want a second decrease (x0.9) a round trip later", s)
	}
}

func TestRecoversAfterThrottling(t *testing.T) {
	t.Parallel()
	l, c := newManual(t, Config{InitialRate: 50})
	tenSeconds := func() {
		for range 100 { // successes while callers wait
			complete(l, c, 20*time.Millisecond, Outcome{})
			step(l, c, 80*time.Millisecond)
		}
	}
	complete(l, c, 20*time.Millisecond, Outcome{Throttled: true}) // ends slow start: 50 -> 25
	tenSeconds()
	// Fast regrowth (10 %/s) to 90 % of the rate at the cut, then 1 %/s.
	if r := l.Stats().Rate; r < 45 || r > 47.5 {
		t.Fatalf("rate %v 10 s after slow start was halved from 50: want 45..47.5", r)
	}
	c.Add(time.Second)
	complete(l, c, 20*time.Millisecond, Outcome{Throttled: true})
	low := l.Stats().Rate
	tenSeconds()
	if r := l.Stats().Rate; r < low*1.08 || r > low*1.15 {
		t.Fatalf("rate %v 10 s after a cut to %v: want about +1 %%/s", r, low)
	}
}

func TestNoGrowthWithoutDemand(t *testing.T) {
	t.Parallel()
	l, c := newManual(t, Config{InitialRate: 10})
	c.Add(10 * time.Second)
	l.mu.Lock()
	l.grow(c.Now())
	l.mu.Unlock()
	if r := l.Stats().Rate; r != 10 {
		t.Fatalf("rate %v grew while nobody waited", r)
	}
}

func TestLatencyRiseHoldsTheRate(t *testing.T) {
	t.Parallel()
	l, c := newManual(t, Config{InitialRate: 10})
	complete(l, c, 10*time.Millisecond, Outcome{Throttled: true}) // leave slow start
	for range 5 {
		complete(l, c, 10*time.Millisecond, Outcome{})
	}
	for range 20 {
		complete(l, c, 200*time.Millisecond, Outcome{}) // the provider queues
	}
	r := l.Stats().Rate
	step(l, c, 5*time.Second)
	if got := l.Stats().Rate; got != r {
		t.Fatalf("rate grew from %v to %v while latency was 20x its baseline", r, got)
	}
}

func TestConcurrencyFollowsRateAndLatency(t *testing.T) {
	t.Parallel()
	l, c := newManual(t, Config{InitialRate: 100, MaxConcurrency: 64})
	if got := l.Stats().Concurrency; got != 64 {
		t.Fatalf("cap before any latency = %d, want MaxConcurrency", got)
	}
	for range 20 {
		complete(l, c, 100*time.Millisecond, Outcome{})
	}
	// 100/s x 0.1 s x 2 + 1
	if got := l.Stats().Concurrency; got != 21 {
		t.Fatalf("cap = %d, want 21", got)
	}
}

func TestRetryAfterPausesEveryone(t *testing.T) {
	t.Parallel()
	l, err := New(Config{InitialRate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.Release(Outcome{Throttled: true, RetryAfter: 150 * time.Millisecond})
	until := l.Stats().PausedUntil
	if until.IsZero() {
		t.Fatal("no pause after a Retry-After")
	}
	p, err = l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if now := time.Now(); now.Before(until) {
		t.Fatalf("permit granted %v before the pause ended", until.Sub(now))
	}
	p.Release(Outcome{})
	p.Release(Outcome{}) // a second release is ignored
	if s := l.Stats(); s.InFlight != 0 {
		t.Fatalf("in flight %d after releases", s.InFlight)
	}
}

func TestAcquireHonoursContext(t *testing.T) {
	t.Parallel()
	l, err := New(Config{InitialRate: 1, MinRate: 0.5, MaxConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Acquire(context.Background()) // takes the only slot
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(Outcome{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestStaticOnlyBoundsConcurrency(t *testing.T) {
	t.Parallel()
	l, err := NewStatic(2)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := l.Acquire(context.Background())
	b, _ := l.Acquire(context.Background())
	got := make(chan struct{})
	go func() {
		p, err := l.Acquire(context.Background())
		if err == nil {
			p.Release(Outcome{})
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("a third permit while two are out")
	case <-time.After(20 * time.Millisecond):
	}
	a.Release(Outcome{Throttled: true}) // no adaptation in static mode
	<-got
	b.Release(Outcome{})
	if s := l.Stats(); s.Decreases != 0 {
		t.Fatalf("static limiter adapted: %+v", s)
	}
	if _, err := NewStatic(0); err == nil {
		t.Fatal("NewStatic(0) accepted")
	}
}

func TestConfigRejects(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{MinRate: -1}, {MinRate: 5, MaxRate: 1}, {InitialRate: 1e6}, {MaxConcurrency: -1},
		{Decrease: 1.5}, {Increase: -0.1}, {Increase: 0.2, FastIncrease: 0.1}, {SlowStartPeriod: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
