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
