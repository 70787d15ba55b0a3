package service

import (
	"context"
	"errors"
	"io"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantlimits"
)

// TenantAdmin is the operators' view of tenants: breakers (pause, resume,
// status) and dispatch limits, over the owner role's connection.
type TenantAdmin struct {
	op       *tenantdb.Operator
	Breakers *breaker.Operator
	Limits   *tenantlimits.Operator
}

// OpenTenantAdmin connects as the owner role (ownerURL).
func OpenTenantAdmin(ctx context.Context, ownerURL string, logger *zap.Logger) (*TenantAdmin, error) {
	if ownerURL == "" {
		return nil, errors.New("an owner database URL (TENANTRY_OWNER_DATABASE_URL) is required")
	}
	op, err := tenantdb.OpenOperator(ctx, ownerURL)
	if err != nil {
		return nil, err
	}
	return &TenantAdmin{op: op, Breakers: breaker.NewOperator(op, nil, logger), Limits: tenantlimits.NewOperator(op)}, nil
}

// Close closes the connection.
func (a *TenantAdmin) Close() { a.op.Close() }

// TenantStatuses reads the breakers of tenants (all with a breaker or
// parked messages, if none are given).
func (a *TenantAdmin) TenantStatuses(ctx context.Context, tenants []uuid.UUID) ([]breaker.Status, error) {
	if len(tenants) == 0 {
		var err error
		if tenants, err = a.Breakers.Tenants(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]breaker.Status, 0, len(tenants))
	for _, t := range tenants {
		st, err := a.Breakers.Status(ctx, t)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// TenantLimits are a tenant's stored dispatch weight, concurrency cap and
// provider budgets.
type TenantLimits = tenantlimits.Limits

// LimitChange is a partial update of a tenant's limits: a negative field
// keeps the stored value.
type LimitChange struct {
	Weight, MaxConcurrency, RequestsPerMinute, TokensPerMinute int
}

// SetLimits applies ch to tenant's stored limits as actor (an audited
// write, skipped when ch changes nothing) and returns the limits in force.
func (a *TenantAdmin) SetLimits(ctx context.Context, tenant uuid.UUID, actor string, ch LimitChange) (TenantLimits, error) {
	l, err := a.Limits.Get(ctx, tenant)
	if err != nil {
		return l, err
	}
	next, changed := l, false
	for _, f := range []struct {
		v   int
		dst *int
	}{{ch.Weight, &next.Weight}, {ch.MaxConcurrency, &next.MaxConcurrency},
		{ch.RequestsPerMinute, &next.RequestsPerMinute}, {ch.TokensPerMinute, &next.TokensPerMinute}} {
		if f.v >= 0 {
			*f.dst, changed = f.v, true
		}
	}
	if !changed {
		return l, nil
	}
	if err := a.Limits.Set(ctx, tenant, actor, next); err != nil {
		return l, err
	}
	return next, nil
}

// BreakerConfig tunes every tenant's circuit breaker (internal/breaker).
type BreakerConfig = breaker.Config

// BreakerStatus is one tenant's breaker as `tenantry tenant status` shows it.
type BreakerStatus = breaker.Status

// WriteStatuses prints breaker statuses, as JSON or as a table.
func WriteStatuses(w io.Writer, sts []BreakerStatus, asJSON bool) error {
	return breaker.WriteStatuses(w, sts, asJSON)
}
