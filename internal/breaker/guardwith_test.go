package breaker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// GuardWith runs the caller's read in the decision's transaction when the
// message runs (closed breaker, or the half-open trial), never when it is
// kept (parked, or deferred behind a backlog); an error of the read rolls
// the decision back: a trial it claimed is not taken.
func TestGuardWith(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{})
	closed, paused, trial, failing := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	for _, tn := range []uuid.UUID{paused, trial, failing} {
		if err := e.op.Pause(ctx, tn, "ops", "held"); err != nil {
			t.Fatal(err)
		}
	}
	c := tenantdbtest.Conn(t, e.db.OwnerURL)
	if _, err := c.Exec(ctx, "UPDATE tenant_breakers SET manual = false, retry_at = now() - interval '1 second' WHERE tenant_id = ANY($1)",
		[]uuid.UUID{trial, failing}); err != nil {
		t.Fatal(err)
	}
	errRead := errors.New("read failed")
	for _, tc := range []struct {
		name       string
		tenant     uuid.UUID
		backlogged bool
		readErr    error
		kept       string
		trial      bool
		ran        bool // the read ran in the decision's transaction
	}{
		{"closed: runs, read in the same transaction", closed, false, nil, "", false, true},
		{"open: parked, no read", paused, false, nil, "parked", false, false},
		{"closed, backlogged: deferred in its batch, no read", closed, true, nil, breaker.ReasonDeferred, false, false},
		{"half-open: the trial runs with the read", trial, false, nil, "", true, true},
		{"half-open, the read fails: nothing decided", failing, false, errRead, "", false, true},
	} {
		m := e.deleteJob(t, tc.tenant, "d", "m-"+strings.ReplaceAll(tc.name, " ", "-"))
		scope := e.verify(t, m)
		ran := false
		d, err := e.b.GuardWith(ctx, scope, m, tc.backlogged, func(ctx context.Context, tx tenantdb.Tx) error {
			ran = true
			// The read sees the decision's own uncommitted writes: one
			// transaction, under the message's tenant.
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM tenant_breakers WHERE tenant_id = $1", tc.tenant).Scan(&n); err != nil {
				return err
			}
			if tx.Scope().TenantID() != tc.tenant {
				t.Errorf("%s: read under tenant %s", tc.name, tx.Scope().TenantID())
			}
			return tc.readErr
		})
		if !errors.Is(err, tc.readErr) || (tc.readErr == nil && err != nil) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.readErr)
		}
		if d.Kept != tc.kept || d.Trial != tc.trial || ran != tc.ran {
			t.Errorf("%s: %+v, read ran %v; want kept %q, trial %v, read %v", tc.name, d, ran, tc.kept, tc.trial, tc.ran)
		}
	}
	// The failed read rolled its trial claim back: the trial is still free.
	m := e.deleteJob(t, failing, "d", "m-after")
	d, err := e.b.GuardWith(ctx, e.verify(t, m), m, false, nil)
	if err != nil || !d.Trial {
		t.Errorf("after a rolled-back decision the trial was not free: %+v %v", d, err)
	}
}

// CountSuccess counts a success in the caller's transaction on a closed
// breaker only, exactly as Record does; it changes nothing and reports
// false for a tenant without a breaker row or with an open breaker, and a
// rolled-back transaction counts nothing.
func TestCountSuccess(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{})
	closed, fresh, paused := uuid.New(), uuid.New(), uuid.New()
	if _, err := e.b.Record(ctx, tenantdbtest.Scope(t, closed), breaker.Outcome{JobID: "first", Failed: true, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := e.op.Pause(ctx, paused, "ops", "held"); err != nil {
		t.Fatal(err)
	}
	count := func(tenant uuid.UUID, rollback bool) bool {
		t.Helper()
		var ok bool
		errRollback := errors.New("roll back")
		err := e.gw.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
			var err error
			if ok, err = e.b.CountSuccess(ctx, tx); err != nil {
				return err
			}
			if rollback {
				return errRollback
			}
			return nil
		})
		if err != nil && !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		return ok
	}
	if !count(closed, false) {
		t.Error("a success on a closed breaker was not counted")
	}
	if st := e.status(t, closed); st.WindowTotal != 2 || st.WindowFailures != 1 || st.ConsecutiveFailures != 0 {
		t.Errorf("after a failure and a success: %+v", st)
	}
	if !count(closed, true) {
		t.Error("the statement did not apply")
	}
	if st := e.status(t, closed); st.WindowTotal != 2 {
		t.Errorf("a rolled-back success was counted: %+v", st)
	}
	if count(fresh, false) || count(paused, false) {
		t.Error("CountSuccess applied without a closed breaker row: Record must decide")
	}
	if st := e.status(t, paused); st.WindowTotal != 0 || st.State != breaker.Open {
		t.Errorf("an open breaker was counted: %+v", st)
	}
}
