package breaker_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/worker"
)

// BenchmarkBreakerPerMessage measures what the breaker adds to every
// message of a closed breaker (Admit, then Record of a success), as a
// ratio to one empty tenant transaction in the same run (the floor of any
// database work a message does).
func BenchmarkBreakerPerMessage(b *testing.B) {
	db := tenantdbtest.NewDatabase(b)
	gw := db.Open(b)
	br, err := breaker.New(breaker.Config{}, gw, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	scope := tenantdbtest.Scope(b, uuid.New())
	m := &worker.Message{ID: "m"}
	empty := func() {
		if err := gw.WithTenant(ctx, scope, func(context.Context, tenantdb.Tx) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	guard := func() {
		if _, err := br.Admit(ctx, scope, m); err != nil {
			b.Fatal(err)
		}
		if _, err := br.Record(ctx, scope, breaker.Outcome{JobID: "m"}); err != nil {
			b.Fatal(err)
		}
	}
	// The handler's path: Guard (which also looks for parked work to wait
	// behind once the tenant has a breaker row), then Record.
	guarded := func() {
		if _, err := br.Guard(ctx, scope, m, false); err != nil {
			b.Fatal(err)
		}
		if _, err := br.Record(ctx, scope, breaker.Outcome{JobID: "m"}); err != nil {
			b.Fatal(err)
		}
	}
	var base, with, withGuard float64
	for b.Loop() {
		base += timeIt(empty)
		with += timeIt(guard)
		withGuard += timeIt(guarded)
	}
	b.ReportMetric(with/base, "breaker/empty_tx")
	b.ReportMetric(withGuard/base, "guard+record/empty_tx")
}
