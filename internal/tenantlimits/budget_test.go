package tenantlimits_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/tenantlimits"
	"github.com/tenantry/tenantry/pipeline"
)

type countingEmbedder struct {
	calls      atomic.Int64
	retryAfter time.Duration
}

func (c *countingEmbedder) Model() string   { return "m" }
func (c *countingEmbedder) Dimensions() int { return 2 }
func (c *countingEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	c.calls.Add(1)
	if c.retryAfter > 0 {
		return nil, &pipeline.TransientError{Err: errors.New("429"), RetryAfter: c.retryAfter}
	}
	return make([][]float32, len(texts)), nil
}

func within(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// A tenant over its budget waits (here: cannot fit before its deadline);
// another tenant, or one without a budget, does not.
func TestBudgetOnlyHoldsItsTenant(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		l     tenantlimits.Limits
		texts []string
	}{
		{"requests per minute", tenantlimits.Limits{Weight: 1, RequestsPerMinute: 1}, []string{"x"}},
		{"tokens per minute", tenantlimits.Limits{Weight: 1, TokensPerMinute: 10}, []string{"forty bytes of text, about ten tokens!!"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inner := &countingEmbedder{}
			b := tenantlimits.NewBudget(inner)
			a := tenantlimits.WithLimits(context.Background(), "a", tc.l)
			if _, err := b.Embed(a, tc.texts); err != nil {
				t.Fatalf("first call within budget: %v", err)
			}
			ctx, cancel := within(200 * time.Millisecond)
			defer cancel()
			_, err := b.Embed(tenantlimits.WithLimits(ctx, "a", tc.l), tc.texts)
			var te *pipeline.TransientError
			if !errors.Is(err, tenantlimits.ErrOverBudget) || !errors.As(err, &te) {
				t.Errorf("over budget: %v, want a transient ErrOverBudget", err)
			}
			ctx2, cancel2 := within(200 * time.Millisecond)
			defer cancel2()
			if _, err := b.Embed(tenantlimits.WithLimits(ctx2, "b", tc.l), tc.texts); err != nil {
				t.Errorf("another tenant held by a's budget: %v", err)
			}
			if _, err := b.Embed(ctx2, tc.texts); err != nil {
				t.Errorf("a call without limits held: %v", err)
			}
			if n := inner.calls.Load(); n != 3 {
				t.Errorf("%d provider calls, want 3", n)
			}
		})
	}
}

// A provider's Retry-After answer to one tenant holds that tenant's next
// call, not another's.
func TestRetryAfterHoldsOnlyItsTenant(t *testing.T) {
	t.Parallel()
	inner := &countingEmbedder{retryAfter: time.Hour}
	b := tenantlimits.NewBudget(inner)
	l := tenantlimits.Limits{Weight: 1, RequestsPerMinute: 6000}
	if _, err := b.Embed(tenantlimits.WithLimits(context.Background(), "a", l), []string{"x"}); err == nil {
		t.Fatal("the provider's 429 was swallowed")
	}
	inner.retryAfter = 0
	ctx, cancel := within(200 * time.Millisecond)
	defer cancel()
	if _, err := b.Embed(tenantlimits.WithLimits(ctx, "a", l), []string{"x"}); !errors.Is(err, tenantlimits.ErrOverBudget) {
		t.Errorf("a called again inside its Retry-After: %v", err)
	}
	if _, err := b.Embed(tenantlimits.WithLimits(ctx, "b", l), []string{"x"}); err != nil {
		t.Errorf("b held by a's Retry-After: %v", err)
	}
	if n := inner.calls.Load(); n != 2 {
		t.Errorf("%d provider calls, want 2", n)
	}
}

// A tenant's token budget is charged the counts the chunker made when the
// call carries them (pipeline.WithTokenCounts), not an estimate from the
// texts' length: two short texts that the chunker counted at 50 tokens each
// spend a 100-token budget, so the next call waits; without counts, or with
// counts for other texts, they are estimated at a few tokens and it does not.
func TestBudgetChargesTheChunkersCounts(t *testing.T) {
	t.Parallel()
	texts := []string{"short", "texts"} // estimated: 2 + 2 tokens
	for _, tc := range []struct {
		name       string
		counts     []int
		overBudget bool
	}{
		{"counted by the chunker", []int{50, 50}, true},
		{"no counts", nil, false},
		{"counts of another call", []int{100}, false},
		{"an unknown count", []int{100, 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := tenantlimits.NewBudget(&countingEmbedder{})
			l := tenantlimits.Limits{Weight: 1, TokensPerMinute: 100}
			ctx := tenantlimits.WithLimits(context.Background(), "a", l)
			if tc.counts != nil {
				ctx = pipeline.WithTokenCounts(ctx, tc.counts)
			}
			if _, err := b.Embed(ctx, texts); err != nil {
				t.Fatalf("first call within budget: %v", err)
			}
			short, cancel := within(200 * time.Millisecond)
			defer cancel()
			_, err := b.Embed(tenantlimits.WithLimits(short, "a", l), texts)
			if got := errors.Is(err, tenantlimits.ErrOverBudget); got != tc.overBudget {
				t.Errorf("second call: %v, want over budget %v", err, tc.overBudget)
			}
		})
	}
}
