package adaptive_test

import (
	"context"
	"fmt"

	"github.com/tenantry/tenantry/internal/embed/adaptive"
)

func ExampleNew() {
	// One limiter per provider quota, shared by every caller.
	lim, err := adaptive.New(adaptive.Config{InitialRate: 10, MaxConcurrency: 32})
	if err != nil {
		panic(err)
	}
	p, err := lim.Acquire(context.Background())
	if err != nil {
		panic(err)
	}
	// ... send the request; the provider answered 429 with Retry-After: 0.
	p.Release(adaptive.Outcome{Throttled: true})
	s := lim.Stats()
	fmt.Println(s.Rate, s.SlowStart, s.Throttles)
	// Output: 5 false 1
}

func ExampleNewStatic() {
	lim, err := adaptive.NewStatic(4) // at most 4 requests in flight, no pacing
	if err != nil {
		panic(err)
	}
	p, _ := lim.Acquire(context.Background())
	fmt.Println(lim.Stats().InFlight)
	p.Release(adaptive.Outcome{})
	fmt.Println(lim.Stats().InFlight)
	// Output:
	// 1
	// 0
}
