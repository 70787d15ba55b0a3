package usage

import (
	"context"
	"sync/atomic"
)

// Call counts what happens inside one embedding call that the caller
// cannot see from its result: the provider's throttling answers (429,
// overloaded) the embedder retried.
type Call struct{ throttled atomic.Int64 }

// Throttles is how many throttling answers the call met.
func (c *Call) Throttles() int64 { return c.throttled.Load() }

type callKey struct{}

// WithCall returns ctx carrying a fresh Call counter.
func WithCall(ctx context.Context) (context.Context, *Call) {
	c := &Call{}
	return context.WithValue(ctx, callKey{}, c), c
}

// Throttled counts one throttling answer in ctx's Call (none: a no-op).
func Throttled(ctx context.Context) {
	if c, ok := ctx.Value(callKey{}).(*Call); ok {
		c.throttled.Add(1)
	}
}
