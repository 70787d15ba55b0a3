package tenantlimits

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/dispatch"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Dispatcher gives verified work its tenant's fair share of the worker's
// slots (dispatch.Scheduler) under the tenant's stored limits, and carries
// the limits in the context for the provider budgets (Budget).
type Dispatcher struct {
	Scheduler *dispatch.Scheduler
	Limits    *Cache
	// DeferAfter: a tenant with this many messages already waiting on
	// this worker is backlogged (Backlogged); 0 never.
	DeferAfter int
	// Wait, if set, observes how long each granted Acquire waited, in
	// seconds (NewDispatchWait).
	Wait interface{ Observe(float64) }
}

// Backlogged reports whether scope's tenant already has DeferAfter
// messages waiting for a slot here: its next messages are better moved out
// of the shared queue (deferred) than held, so others' messages behind them
// are reached.
func (d *Dispatcher) Backlogged(scope tenantdb.Scope) bool {
	return d.DeferAfter > 0 && d.Scheduler.Waiting(scope.TenantID().String()) >= d.DeferAfter
}

// Ready reports whether tenant may be fed deferred work (not backlogged).
func (d *Dispatcher) Ready(tenant uuid.UUID) bool {
	return d.DeferAfter == 0 || d.Scheduler.Waiting(tenant.String()) < d.DeferAfter
}

// Acquire waits for a slot for scope's tenant. The returned context carries
// the tenant's limits; call release exactly once when the work is done.
func (d *Dispatcher) Acquire(ctx context.Context, scope tenantdb.Scope) (context.Context, func(), error) {
	start := time.Now()
	l, _ := d.Limits.Get(ctx, scope) // Default on a read failure: never stop the work for it
	rel, err := d.Scheduler.Acquire(ctx, scope.TenantID().String(), dispatch.Share{Weight: l.Weight, Max: l.MaxConcurrency})
	if err != nil {
		return ctx, nil, err
	}
	if d.Wait != nil {
		d.Wait.Observe(time.Since(start).Seconds())
	}
	return withTenant(ctx, scope, l), rel, nil
}

// withTenant returns ctx carrying scope's tenant, its limits and the
// verified scope itself (where Budget records usage).
func withTenant(ctx context.Context, scope tenantdb.Scope, l Limits) context.Context {
	return context.WithValue(ctx, limitsKey{}, tenantLimits{scope.TenantID().String(), l, scope})
}

type limitsKey struct{}

type tenantLimits struct {
	tenant string
	l      Limits
	scope  tenantdb.Scope // the verified scope (Acquire): where usage is recorded
}

// WithLimits returns ctx carrying tenant's limits (for Budget).
func WithLimits(ctx context.Context, tenant string, l Limits) context.Context {
	return context.WithValue(ctx, limitsKey{}, tenantLimits{tenant: tenant, l: l})
}

// scopeFrom is the verified scope Acquire put in ctx (zero: none).
func scopeFrom(ctx context.Context) tenantdb.Scope {
	v, _ := ctx.Value(limitsKey{}).(tenantLimits)
	return v.scope
}

// FromContext returns the tenant and limits ctx carries (ok false: none).
func FromContext(ctx context.Context) (tenant string, l Limits, ok bool) {
	v, ok := ctx.Value(limitsKey{}).(tenantLimits)
	return v.tenant, v.l, ok
}
