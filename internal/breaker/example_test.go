package breaker_test

import (
	"context"
	"os"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/worker"
)

// An operator (or an operators' console) pauses a tenant, reads its
// breaker and resumes it, over the owner role's connection; each call is
// audited in the tenant's chain with the operator as actor.
func ExampleOperator() {
	ctx := context.Background()
	op, err := tenantdb.OpenOperator(ctx, os.Getenv("TENANTRY_OWNER_DATABASE_URL"))
	if err != nil {
		return
	}
	defer op.Close()
	ops := breaker.NewOperator(op, nil, nil)
	tenant := uuid.MustParse("a0000000-0000-4000-8000-00000000ac3e")
	if err := ops.Pause(ctx, tenant, "alice", "their integration is broken"); err != nil {
		return
	}
	st, _ := ops.Status(ctx, tenant)
	_ = breaker.WriteStatuses(os.Stdout, []breaker.Status{st}, false)
	_ = ops.Resume(ctx, tenant, "alice", "fixed")
}

// The worker's handler asks the breaker after the gate verified a message:
// park it (kept, then deleted from the queue), or run it and record how it
// ended (internal/ingest does exactly this).
func ExampleBreaker_Admit() {
	ctx := context.Background()
	db, err := tenantdb.Open(ctx, tenantdb.Config{URL: os.Getenv("TENANTRY_DATABASE_URL")})
	if err != nil {
		return
	}
	defer db.Close()
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 10}, db, nil, nil)
	if err != nil {
		return
	}
	handle := func(ctx context.Context, scope tenantdb.Scope, m *worker.Message, run func() error) error {
		d, err := b.Admit(ctx, scope, m)
		if err != nil {
			return err // retried
		}
		if d.Park {
			return b.Park(ctx, scope, m, d.Reason) // nil: kept, the message may be deleted
		}
		err = run()
		_, _ = b.Record(ctx, scope, breaker.Outcome{JobID: m.ID, Trial: d.Trial, Failed: worker.IsPermanent(err),
			Transient: err != nil && !worker.IsPermanent(err), Reason: worker.ReasonOf(err)})
		return err
	}
	_ = handle
}
