package adaptive

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Config tunes the limiter. The defaults suit request quotas from a few to a
// few thousand requests per second.
type Config struct {
	// InitialRate is the starting rate in requests per second (default 5).
	InitialRate float64
	// MinRate and MaxRate bound the rate (defaults 0.2 and 10000).
	MinRate, MaxRate float64
	// MaxConcurrency caps requests in flight whatever the rate (default 64).
	MaxConcurrency int
	// Decrease multiplies the rate at a throttling signal, at most once per
	// round trip (default 0.9). In slow start (before the first signal) the
	// rate is halved instead, then regained at FastIncrease up to 90 % of
	// the rate it was cut from.
	Decrease float64
	// Increase is the relative growth of the rate per second while callers
	// wait for permits and no signal arrives (default 0.01: 1 %/s). Until the
	// first signal the rate doubles every SlowStartPeriod instead.
	Increase float64
	// FastIncrease is the growth per second while the rate is below 90 % of
	// the rate at the last cut (default 0.1: 10 %/s), e.g. after slow start
	// halved it.
	FastIncrease float64
	// SlowStartPeriod is how often the rate doubles in slow start
	// (default 250 ms).
	SlowStartPeriod time.Duration
	// MaxPause bounds one Retry-After pause (default 60 s).
	MaxPause time.Duration

	now    func() time.Time // tests
	static bool             // NewStatic: no pacing, no adaptation
}

func (c Config) withDefaults() Config {
	if c.InitialRate == 0 {
		c.InitialRate = 5
	}
	if c.MinRate == 0 {
		c.MinRate = 0.2
	}
	if c.MaxRate == 0 {
		c.MaxRate = 10000
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = 64
	}
	if c.Decrease == 0 {
		c.Decrease = 0.9
	}
	if c.Increase == 0 {
		c.Increase = 0.01
	}
	if c.FastIncrease == 0 {
		c.FastIncrease = max(0.1, c.Increase)
	}
	if c.SlowStartPeriod == 0 {
		c.SlowStartPeriod = 250 * time.Millisecond
	}
	if c.MaxPause == 0 {
		c.MaxPause = time.Minute
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.MinRate <= 0 || c.MaxRate < c.MinRate:
		return fmt.Errorf("adaptive: need 0 < MinRate <= MaxRate, got %v, %v", c.MinRate, c.MaxRate)
	case c.InitialRate < c.MinRate || c.InitialRate > c.MaxRate:
		return fmt.Errorf("adaptive: InitialRate %v outside [MinRate, MaxRate]", c.InitialRate)
	case c.MaxConcurrency < 1:
		return fmt.Errorf("adaptive: MaxConcurrency %d must be positive", c.MaxConcurrency)
	case c.Decrease <= 0 || c.Decrease >= 1:
		return fmt.Errorf("adaptive: Decrease %v must be in (0, 1)", c.Decrease)
	case c.Increase <= 0 || c.Increase > 1 || c.FastIncrease < c.Increase || c.FastIncrease > 1:
		return fmt.Errorf("adaptive: need 0 < Increase <= FastIncrease <= 1, got %v, %v", c.Increase, c.FastIncrease)
	case c.SlowStartPeriod <= 0 || c.MaxPause <= 0:
		return errors.New("adaptive: SlowStartPeriod and MaxPause must be positive")
	}
	return nil
}

// Outcome is what became of one permitted request.
type Outcome struct {
	// Throttled: the provider said slow down (HTTP 429, or 503/529
	// "overloaded"). A throttling signal.
	Throttled bool
	// RetryAfter is the provider's hint with a throttle (0: none).
	RetryAfter time.Duration
	// Failed: the request failed otherwise (5xx, network, timeout); neutral
	// for the rate.
	Failed bool
}

// Stats is a snapshot of the limiter.
type Stats struct {
	Rate        float64       // permits per second
	Concurrency int           // current cap on requests in flight
	InFlight    int           // permits not yet released
	SlowStart   bool          // no throttling signal seen yet
	Latency     time.Duration // smoothed latency of successful requests
	Throttles   int64         // throttling signals seen
	Decreases   int64         // times the rate was cut
	PausedUntil time.Time     // zero, or when the current Retry-After pause ends
}

// Limiter paces requests. It is safe for concurrent use; share one per
// provider quota (e.g. per model and account).
type Limiter struct {
	cfg Config

	mu           sync.Mutex
	rate         float64
	rateAtCut    float64 // the rate when it was last cut
	slowStart    bool
	nextSlot     time.Time // earliest time the next permit may be granted
	pauseUntil   time.Time
	inFlight     int
	lastUpdate   time.Time // last rate increase step
	lastDecrease time.Time
	lastWait     time.Time // last time a caller had to wait for pacing or the cap
	latency      float64   // EWMA of successful request latency, seconds
	minLatency   float64   // lowest latency seen in the current window, seconds
	minLatencyAt time.Time // start of that window
	throttles    int64
	decreases    int64
	wake         chan struct{} // closed and replaced when a permit is released
}

// New returns a Limiter.
func New(cfg Config) (*Limiter, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	now := cfg.now()
	return &Limiter{
		cfg:        cfg,
		rate:       cfg.InitialRate,
		slowStart:  true,
		lastUpdate: now,
		wake:       make(chan struct{}),
	}, nil
}

// NewStatic returns a Limiter that only bounds requests in flight to n and
// honours Retry-After pauses: no pacing, no adaptation.
func NewStatic(n int) (*Limiter, error) {
	if n < 1 {
		return nil, fmt.Errorf("adaptive: concurrency %d must be positive", n)
	}
	return New(Config{MaxConcurrency: n, InitialRate: 10000, MaxRate: 10000, static: true})
}

// Permit is one granted request; report its Outcome with Release exactly once.
type Permit struct {
	l     *Limiter
	start time.Time
	once  sync.Once
}

// Release reports the request's outcome and frees its slot.
func (p *Permit) Release(o Outcome) {
	p.once.Do(func() { p.l.release(p.start, o) })
}

// Acquire waits for a permit: until any Retry-After pause is over, a slot
// under the concurrency cap is free, and the pacer's next slot has come.
func (l *Limiter) Acquire(ctx context.Context) (*Permit, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l.mu.Lock()
		now := l.cfg.now()
		l.grow(now)
		var wait time.Duration
		var wake chan struct{}
		switch {
		case now.Before(l.pauseUntil):
			wait = l.pauseUntil.Sub(now)
		case l.inFlight >= l.capLocked():
			wake = l.wake
			l.lastWait = now
		case !l.cfg.static && now.Before(l.nextSlot):
			wait = l.nextSlot.Sub(now)
			l.lastWait = now
		default:
			interval := time.Duration(float64(time.Second) / l.rate)
			base := l.nextSlot
			if base.Before(now) {
				base = now
			}
			l.nextSlot = base.Add(interval)
			l.inFlight++
			l.mu.Unlock()
			return &Permit{l: l, start: now}, nil
		}
		l.mu.Unlock()
		if err := sleep(ctx, wait, wake); err != nil {
			return nil, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	if wake != nil {
		select {
		case <-wake:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Limiter) release(start time.Time, o Outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.now()
	l.inFlight--
	close(l.wake)
	l.wake = make(chan struct{})
	lat := now.Sub(start).Seconds()
	switch {
	case o.Throttled:
		l.throttles++
		if o.RetryAfter > 0 {
			until := now.Add(min(o.RetryAfter, l.cfg.MaxPause))
			if until.After(l.pauseUntil) {
				l.pauseUntil = until
			}
		}
		// One cut per round trip: the other throttles of the same burst
		// were sent at the rate already cut.
		rtt := time.Duration(math.Max(l.latency, lat) * float64(time.Second))
		if !l.cfg.static && now.Sub(l.lastDecrease) > max(rtt, 20*time.Millisecond) {
			l.rateAtCut = l.rate
			if l.slowStart {
				l.rate /= 2
				l.slowStart = false
			} else {
				l.rate *= l.cfg.Decrease
			}
			l.rate = math.Max(l.rate, l.cfg.MinRate)
			l.lastDecrease = now
			l.decreases++
			// Re-pace from now at the new rate.
			l.nextSlot = now.Add(time.Duration(float64(time.Second) / l.rate))
		}
		l.lastUpdate = now
	case o.Failed:
	default:
		if l.latency == 0 {
			l.latency = lat
		} else {
			l.latency = 0.8*l.latency + 0.2*lat
		}
		// The baseline latency: the minimum over a 30 s window.
		if l.minLatency == 0 || lat < l.minLatency || now.Sub(l.minLatencyAt) > 30*time.Second {
			l.minLatency, l.minLatencyAt = lat, now
		}
	}
}

// grow raises the rate for the time since the last step, if callers were
// waiting for permits (the limiter, not the callers, was the bottleneck) and
// latency has not risen to twice its baseline (a queue building up at the
// provider).
func (l *Limiter) grow(now time.Time) {
	dt := now.Sub(l.lastUpdate)
	if dt <= 0 || l.cfg.static {
		return
	}
	l.lastUpdate = now
	if now.Sub(l.lastWait) > time.Second || now.Before(l.pauseUntil) {
		return
	}
	if l.minLatency > 0 && l.latency > 2*l.minLatency+0.005 {
		// Latency has doubled: the provider is queueing. Hold the rate.
		return
	}
	switch {
	case l.slowStart:
		l.rate *= math.Exp2(dt.Seconds() / l.cfg.SlowStartPeriod.Seconds())
	case l.rate < 0.9*l.rateAtCut:
		l.rate = math.Min(l.rate*(1+l.cfg.FastIncrease*dt.Seconds()), 0.9*l.rateAtCut)
	default:
		l.rate *= 1 + l.cfg.Increase*dt.Seconds()
	}
	l.rate = math.Min(l.rate, l.cfg.MaxRate)
}

// capLocked is the cap on requests in flight: twice what the rate needs at
// the observed latency, at least 1 (rate x latency, Little's law).
func (l *Limiter) capLocked() int {
	lat := l.latency
	if lat == 0 || l.cfg.static {
		return l.cfg.MaxConcurrency
	}
	c := int(math.Ceil(l.rate*lat*2-1e-9)) + 1
	return max(1, min(c, l.cfg.MaxConcurrency))
}

// Stats returns a snapshot.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{
		Rate:        l.rate,
		Concurrency: l.capLocked(),
		InFlight:    l.inFlight,
		SlowStart:   l.slowStart,
		Latency:     time.Duration(l.latency * float64(time.Second)),
		Throttles:   l.throttles,
		Decreases:   l.decreases,
	}
	if l.cfg.now().Before(l.pauseUntil) {
		s.PausedUntil = l.pauseUntil
	}
	return s
}
