package tenantlimits

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/usage"
	"github.com/tenantry/tenantry/pipeline"
)

// Budget wraps an embedder with per-tenant budgets: requests and tokens per
// minute from the limits the context carries (WithLimits), on top of the
// provider-wide adaptive limiter it wraps. A tenant over its budget waits;
// other tenants do not. A provider's Retry-After answer to one tenant's
// call makes that tenant (only) wait that long before its next call.
type Budget struct {
	e     pipeline.Embedder
	usage UsageRecorder

	mu      sync.Mutex
	tenants map[string]*tenantBudget
}

type tenantBudget struct {
	rpm, tpm  int
	requests  *rate.Limiter
	tokens    *rate.Limiter
	notBefore time.Time
}

// ErrOverBudget is returned when a tenant's call cannot fit its budget
// before the context's deadline (the work is retried later).
var ErrOverBudget = errors.New("tenantlimits: tenant over its provider budget")

// NewBudget wraps e.
func NewBudget(e pipeline.Embedder) *Budget {
	return &Budget{e: e, tenants: map[string]*tenantBudget{}}
}

// UsageRecorder tallies a tenant's provider usage (*usage.Meter): an
// in-memory add, flushed to the database in batches elsewhere.
type UsageRecorder interface {
	Add(scope tenantdb.Scope, c usage.Counts)
}

// RecordUsage makes b tally every call of a tenant whose work came through
// the Dispatcher (the verified scope it carries) into r, and returns b.
func (b *Budget) RecordUsage(r UsageRecorder) *Budget {
	b.usage = r
	return b
}

// Model is the wrapped embedder's model.
func (b *Budget) Model() string { return b.e.Model() }

// Dimensions is the wrapped embedder's dimension.
func (b *Budget) Dimensions() int { return b.e.Dimensions() }

// Embed waits for the tenant's budget, then embeds. A call's tokens are the
// counts the chunker made when ctx carries them (pipeline.WithTokenCounts),
// else an estimate.
func (b *Budget) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	tokens := callTokens(ctx, texts)
	if b.usage == nil {
		return b.embed(ctx, texts, tokens)
	}
	scope := scopeFrom(ctx)
	if scope.IsZero() {
		return b.embed(ctx, texts, tokens)
	}
	ctx, call := usage.WithCall(ctx)
	out, err := b.embed(ctx, texts, tokens)
	c := usage.Counts{Throttled: call.Throttles()}
	var te *pipeline.TransientError
	if c.Throttled == 0 && errors.As(err, &te) && te.RetryAfter > 0 && !errors.Is(err, ErrOverBudget) {
		c.Throttled = 1 // the provider's own "slow down" reached us unretried
	}
	if !errors.Is(err, ErrOverBudget) { // a call refused before the provider cost nothing
		c.Requests, c.Tokens = 1, int64(tokens)
	}
	b.usage.Add(scope, c)
	return out, err
}

func (b *Budget) embed(ctx context.Context, texts []string, tokens int) ([][]float32, error) {
	tenant, l, ok := FromContext(ctx)
	if !ok || (l.RequestsPerMinute == 0 && l.TokensPerMinute == 0) {
		return b.e.Embed(ctx, texts)
	}
	tb, notBefore := b.budget(tenant, l)
	if err := tb.wait(ctx, notBefore, tokens); err != nil {
		return nil, &pipeline.TransientError{Err: fmt.Errorf("%w: %w", ErrOverBudget, err), RetryAfter: time.Second}
	}
	out, err := b.e.Embed(ctx, texts)
	var te *pipeline.TransientError
	if errors.As(err, &te) && te.RetryAfter > 0 {
		b.mu.Lock()
		if at := time.Now().Add(te.RetryAfter); at.After(tb.notBefore) {
			tb.notBefore = at
		}
		b.mu.Unlock()
	}
	return out, err
}

func (b *Budget) budget(tenant string, l Limits) (*tenantBudget, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	tb := b.tenants[tenant]
	if tb == nil || tb.rpm != l.RequestsPerMinute || tb.tpm != l.TokensPerMinute {
		nb := &tenantBudget{rpm: l.RequestsPerMinute, tpm: l.TokensPerMinute}
		if l.RequestsPerMinute > 0 {
			nb.requests = rate.NewLimiter(rate.Limit(float64(l.RequestsPerMinute)/60), max(1, l.RequestsPerMinute/60))
		}
		if l.TokensPerMinute > 0 {
			nb.tokens = rate.NewLimiter(rate.Limit(float64(l.TokensPerMinute)/60), l.TokensPerMinute)
		}
		if tb != nil {
			nb.notBefore = tb.notBefore
		}
		tb = nb
		b.tenants[tenant] = tb
	}
	return tb, tb.notBefore
}

func (tb *tenantBudget) wait(ctx context.Context, notBefore time.Time, tokens int) error {
	if d := time.Until(notBefore); d > 0 {
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
			return fmt.Errorf("retry-after %s exceeds the deadline", d.Round(time.Millisecond))
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if tb.requests != nil {
		if err := tb.requests.Wait(ctx); err != nil {
			return err
		}
	}
	if tb.tokens != nil {
		// A call larger than a whole minute's budget waits for the full burst.
		if err := tb.tokens.WaitN(ctx, min(tokens, tb.tokens.Burst())); err != nil {
			return err
		}
	}
	return nil
}

// callTokens returns a call's tokens: the sum of the counts ctx carries for
// its texts (counted once, by the chunker), else an estimate of 4 bytes a
// token, as cl100k averages on English (for texts no chunker counted, such
// as a search query; budgets are a fairness tool, not billing).
func callTokens(ctx context.Context, texts []string) int {
	n := 0
	if counts, ok := pipeline.TokenCounts(ctx, len(texts)); ok {
		for _, c := range counts {
			n += c
		}
		return n
	}
	for _, t := range texts {
		n += len(t)/4 + 1
	}
	return n
}
