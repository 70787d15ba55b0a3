package usage_test

import (
	"context"
	"fmt"

	"github.com/tenantry/tenantry/internal/usage"
)

// An embedder counts the provider's throttling answers it retried inside a
// call; the caller (the tenant's budget) reads them after the call and adds
// them to the tenant's tally (Meter.Add), which a flush writes in batches.
func ExampleWithCall() {
	ctx, call := usage.WithCall(context.Background())
	embed := func(ctx context.Context) {
		usage.Throttled(ctx) // 429: retried after a backoff
	}
	embed(ctx)
	fmt.Println(usage.Counts{Requests: 1, Tokens: 12, Throttled: call.Throttles()})
	// Output: {1 12 1}
}
