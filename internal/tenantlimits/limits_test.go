package tenantlimits_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/dispatch"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/internal/tenantlimits"
)

// Limits set by an operator reach the workers (within the refresh), are
// audited in the tenant's chain, and apply to that tenant only.
func TestLimitsSetByOperatorReachWorkers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	raw, err := tenantdb.OpenOperator(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	op := tenantlimits.NewOperator(raw)
	a, b := uuid.New(), uuid.New()
	cache := tenantlimits.NewCache(gw, time.Nanosecond) // always re-read
	if l, err := cache.Get(ctx, tenantdbtest.Scope(t, a)); err != nil || l != tenantlimits.Default {
		t.Fatalf("before any limits: %+v %v", l, err)
	}
	want := tenantlimits.Limits{Weight: 5, MaxConcurrency: 2, RequestsPerMinute: 600, TokensPerMinute: 100000}
	if err := op.Set(ctx, a, "dave", want); err != nil {
		t.Fatal(err)
	}
	if l, err := cache.Get(ctx, tenantdbtest.Scope(t, a)); err != nil || l != want {
		t.Errorf("a's limits: %+v %v", l, err)
	}
	if l, err := cache.Get(ctx, tenantdbtest.Scope(t, b)); err != nil || l != tenantlimits.Default {
		t.Errorf("b's limits changed with a's: %+v %v", l, err)
	}
	if l, err := op.Get(ctx, b); err != nil || l != tenantlimits.Default {
		t.Errorf("operator reads b: %+v %v", l, err)
	}
	for _, bad := range []tenantlimits.Limits{{Weight: 0}, {Weight: 1001}, {Weight: 1, MaxConcurrency: -1}, {Weight: 1, TokensPerMinute: -5}} {
		if err := op.Set(ctx, a, "dave", bad); !errors.Is(err, tenantlimits.ErrInvalid) {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
	c := tenantdbtest.Conn(t, db.AdminURL)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'tenant.limits' AND actor = 'operator:dave'", a).
		Scan(&n); err != nil || n != 1 {
		t.Errorf("%d audit rows (%v), want 1", n, err)
	}
	// A cached value is served within the refresh, without the database.
	slow := tenantlimits.NewCache(gw, time.Hour)
	if _, err := slow.Get(ctx, tenantdbtest.Scope(t, a)); err != nil {
		t.Fatal(err)
	}
	if err := op.Set(ctx, a, "dave", tenantlimits.Limits{Weight: 9}); err != nil {
		t.Fatal(err)
	}
	if l, _ := slow.Get(ctx, tenantdbtest.Scope(t, a)); l != want {
		t.Errorf("cached limits re-read before the refresh: %+v", l)
	}
}

// The dispatcher applies the stored cap and passes the limits on.
func TestDispatcherAppliesStoredLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	raw, err := tenantdb.OpenOperator(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	a := uuid.New()
	if err := tenantlimits.NewOperator(raw).Set(ctx, a, "ops", tenantlimits.Limits{Weight: 2, MaxConcurrency: 1, RequestsPerMinute: 60}); err != nil {
		t.Fatal(err)
	}
	s, _ := dispatch.New(4)
	d := &tenantlimits.Dispatcher{Scheduler: s, Limits: tenantlimits.NewCache(gw, time.Minute)}
	actx, rel, err := d.Acquire(ctx, tenantdbtest.Scope(t, a))
	if err != nil {
		t.Fatal(err)
	}
	if tenant, l, ok := tenantlimits.FromContext(actx); !ok || tenant != a.String() || l.RequestsPerMinute != 60 {
		t.Errorf("context carries %q %+v %v", tenant, l, ok)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := d.Acquire(short, tenantdbtest.Scope(t, a)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a second slot past the cap of 1: %v", err)
	}
	_, rel2, err := d.Acquire(ctx, tenantdbtest.Scope(t, uuid.New()))
	if err != nil {
		t.Errorf("another tenant waits behind a's cap: %v", err)
	} else {
		rel2()
	}
	rel()
}
