package embed

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/embed/adaptive"
	"github.com/tenantry/tenantry/internal/usage"
	"github.com/tenantry/tenantry/pipeline"
)

// Limits are what one provider request may carry.
type Limits struct {
	MaxInputs int // texts per request (Titan v2: 1, Cohere: 96, OpenAI: 2048)
	MaxTokens int // estimated tokens per request (0: no limit)
}

// Provider sends one request. Implementations return *StatusError for
// non-success answers (so the retry policy can tell 429 from 400) and
// ErrBadResponse for unusable success answers; they need not validate
// counts or dimensions (Embedder does).
type Provider interface {
	EmbedBatch(ctx context.Context, texts []string) ([][]float32, error)
	Model() string
	Dimensions() int
	Limits() Limits
}

// Limiter bounds and paces requests; *adaptive.Limiter (adaptive.New or
// adaptive.NewStatic) implements it.
type Limiter interface {
	Acquire(ctx context.Context) (*adaptive.Permit, error)
}

// Config tunes batching, concurrency and retries.
type Config struct {
	// MaxInputs and MaxTokens lower the provider's per-request limits
	// (0: the provider's).
	MaxInputs int
	MaxTokens int
	// CountTokens estimates a text's tokens for MaxTokens and the metrics
	// (default: len(text)/3+1, an over-estimate for most tokenizers), for
	// calls whose context carries no counts: chunks carry the chunker's
	// (pipeline.WithTokenCounts), which are used instead, so a chunk is
	// never counted twice. chunk.Counter's Count fits.
	CountTokens func(string) int
	// Concurrency bounds requests in flight when Limiter is nil (default 4).
	Concurrency int
	// Limiter paces requests instead: share one *adaptive.Limiter per
	// provider quota to find and hold the quota's rate.
	Limiter Limiter
	// MaxAttempts bounds attempts per request (default 6).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the exponential backoff with full
	// jitter (defaults 200 ms and 20 s). A longer Retry-After wins.
	BaseBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest wait honoured inside one Embed call
	// (default 30 s); a longer hint ends the call with a
	// pipeline.TransientError carrying it, so the message is retried later.
	MaxRetryAfter time.Duration
	// RequestTimeout bounds one attempt (default 30 s).
	RequestTimeout time.Duration
	// Metrics, if set, counts requests, throttles and tokens, and exports
	// the Limiter's rate when it reports one (NewMetrics).
	Metrics *Metrics
}

func (c Config) withDefaults(p Provider) Config {
	l := p.Limits()
	if c.MaxInputs == 0 || (l.MaxInputs > 0 && c.MaxInputs > l.MaxInputs) {
		c.MaxInputs = l.MaxInputs
	}
	if c.MaxTokens == 0 || (l.MaxTokens > 0 && c.MaxTokens > l.MaxTokens) {
		c.MaxTokens = l.MaxTokens
	}
	if c.CountTokens == nil {
		c.CountTokens = func(s string) int { return len(s)/3 + 1 }
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 6
	}
	if c.BaseBackoff == 0 {
		c.BaseBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 20 * time.Second
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = 30 * time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 30 * time.Second
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.MaxInputs < 1:
		return fmt.Errorf("embed: MaxInputs %d must be positive", c.MaxInputs)
	case c.MaxTokens < 0:
		return fmt.Errorf("embed: MaxTokens %d must not be negative", c.MaxTokens)
	case c.Concurrency < 1:
		return fmt.Errorf("embed: Concurrency %d must be positive", c.Concurrency)
	case c.MaxAttempts < 1:
		return fmt.Errorf("embed: MaxAttempts %d must be positive", c.MaxAttempts)
	case c.BaseBackoff <= 0 || c.MaxBackoff < c.BaseBackoff:
		return fmt.Errorf("embed: need 0 < BaseBackoff <= MaxBackoff")
	case c.MaxRetryAfter < 0 || c.RequestTimeout <= 0:
		return fmt.Errorf("embed: MaxRetryAfter must not be negative and RequestTimeout must be positive")
	}
	return nil
}

// Embedder implements pipeline.Embedder over a Provider. It is safe for
// concurrent use; concurrent Embed calls share its limiter.
type Embedder struct {
	p       Provider
	cfg     Config
	limiter Limiter
	log     *zap.Logger
	model   string
	dims    int
}

var _ pipeline.Embedder = (*Embedder)(nil)

// New wraps a provider. A nil logger logs nothing.
func New(p Provider, cfg Config, logger *zap.Logger) (*Embedder, error) {
	if p == nil {
		return nil, errors.New("embed: nil provider")
	}
	cfg = cfg.withDefaults(p)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if p.Dimensions() < 1 {
		return nil, fmt.Errorf("embed: provider dimension %d", p.Dimensions())
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	lim := cfg.Limiter
	if lim == nil {
		l, err := adaptive.NewStatic(cfg.Concurrency)
		if err != nil {
			return nil, err
		}
		lim = l
	}
	if sl, ok := lim.(StatsLimiter); ok && cfg.Limiter != nil {
		cfg.Metrics.ObserveLimiter(sl)
	}
	return &Embedder{p: p, cfg: cfg, limiter: lim, log: logger, model: p.Model(), dims: p.Dimensions()}, nil
}

// Model returns the provider's model name.
func (e *Embedder) Model() string { return e.model }

// Dimensions returns the vector dimension.
func (e *Embedder) Dimensions() int { return e.dims }

// Embed returns one vector per text, in order.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, ctx.Err()
	}
	counts := e.tokenCounts(ctx, texts)
	batches := e.batches(texts, counts)
	out := make([][]float32, len(texts))
	if len(batches) == 1 {
		return out, e.send(ctx, texts, out, sum(counts, 0, len(texts)))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	work := make(chan [2]int)
	workers := min(len(batches), 64)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := e.send(ctx, texts[b[0]:b[1]], out[b[0]:b[1]], sum(counts, b[0], b[1])); err != nil {
					once.Do(func() { first = err; cancel(err) })
				}
			}
		}()
	}
feed:
	for _, b := range batches {
		select {
		case work <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	return out, nil
}

// tokenCounts returns each text's tokens: the counts ctx carries (the
// chunker's), else CountTokens' when MaxTokens or the metrics need them,
// else nil.
func (e *Embedder) tokenCounts(ctx context.Context, texts []string) []int {
	if counts, ok := pipeline.TokenCounts(ctx, len(texts)); ok {
		return counts
	}
	if e.cfg.MaxTokens == 0 && e.cfg.Metrics == nil {
		return nil
	}
	counts := make([]int, len(texts))
	for i, t := range texts {
		counts[i] = e.cfg.CountTokens(t)
	}
	return counts
}

// sum adds counts[lo:hi] (0 when counts is nil).
func sum(counts []int, lo, hi int) int {
	n := 0
	if counts != nil {
		for _, c := range counts[lo:hi] {
			n += c
		}
	}
	return n
}

// batches cuts texts into [start, end) ranges within the request limits;
// counts are the texts' tokens (nil when MaxTokens is 0).
func (e *Embedder) batches(texts []string, counts []int) [][2]int {
	var out [][2]int
	start, tokens := 0, 0
	for i := range texts {
		n := 0
		if e.cfg.MaxTokens > 0 {
			n = counts[i]
		}
		if i > start && (i-start >= e.cfg.MaxInputs || e.cfg.MaxTokens > 0 && tokens+n > e.cfg.MaxTokens) {
			out = append(out, [2]int{start, i})
			start, tokens = i, 0
		}
		tokens += n
	}
	return append(out, [2]int{start, len(texts)})
}

// send embeds one request's texts into out, retrying as the policy allows;
// tokens are the texts' (for the metrics).
func (e *Embedder) send(ctx context.Context, texts []string, out [][]float32, tokens int) error {
	var last error
	var hint time.Duration
	for attempt := 1; ; attempt++ {
		permit, err := e.limiter.Acquire(ctx)
		if err != nil {
			return err
		}
		actx, cancel := context.WithTimeoutCause(ctx, e.cfg.RequestTimeout, errAttemptTimeout)
		vecs, err := e.p.EmbedBatch(actx, texts)
		if err == nil {
			err = e.check(vecs, len(texts))
		}
		c := classRetry
		if err != nil {
			c = classify(ctx, actx, err)
		}
		cancel()
		var se *StatusError
		hint = 0
		if errors.As(err, &se) {
			hint = se.RetryAfter
		}
		switch {
		case err == nil:
			permit.Release(adaptive.Outcome{})
			e.cfg.Metrics.request(e.model, "ok", len(texts), tokens)
			copy(out, vecs)
			return nil
		case c == classThrottle:
			permit.Release(adaptive.Outcome{Throttled: true, RetryAfter: hint})
			e.cfg.Metrics.request(e.model, "throttled", 0, 0)
			usage.Throttled(ctx) // the tenant's provider usage counts its 429s
		default:
			permit.Release(adaptive.Outcome{Failed: true})
			e.cfg.Metrics.request(e.model, "error", 0, 0)
		}
		last = err
		switch c {
		case classPermanent:
			return rejected(err)
		case classFatal:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &pipeline.TransientError{Err: err}
		}
		if attempt >= e.cfg.MaxAttempts {
			break
		}
		wait := backoff(e.cfg.BaseBackoff, e.cfg.MaxBackoff, attempt)
		if hint > wait {
			wait = hint
		}
		if wait > e.cfg.MaxRetryAfter {
			break
		}
		e.log.Debug("embed: retrying", zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return &pipeline.TransientError{Err: fmt.Errorf("embed: gave up: %w", last), RetryAfter: hint}
}

// check validates an answer: one vector per input, of the declared
// dimension, with finite values.
func (e *Embedder) check(vecs [][]float32, n int) error {
	if len(vecs) != n {
		return BadResponse(fmt.Sprintf("%d vectors for %d inputs", len(vecs), n))
	}
	for _, v := range vecs {
		if len(v) != e.dims {
			return BadResponse(fmt.Sprintf("dimension %d, want %d", len(v), e.dims))
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return BadResponse("non-finite value")
			}
		}
	}
	return nil
}

// backoff is exponential with full jitter: a uniform wait in
// [0, min(max, base*2^(attempt-1))].
func backoff(base, maxWait time.Duration, attempt int) time.Duration {
	d := base << min(attempt-1, 30)
	if d <= 0 || d > maxWait {
		d = maxWait
	}
	return time.Duration(rand.Int64N(int64(d) + 1)) //nolint:gosec // backoff jitter, not a secret
}
