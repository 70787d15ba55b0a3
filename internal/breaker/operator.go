package breaker

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Operator acts on any tenant's breaker as an operator (the owner role's
// connection, tenantdb.Operator): what `tenantry tenant pause|resume|status`
// and an operators' console call. Every pause and resume is audited in the
// tenant's chain with the operator as actor.
type Operator struct {
	op  *tenantdb.Operator
	m   *Metrics
	log *zap.Logger
}

// NewOperator returns an Operator on op. m and logger may be nil.
func NewOperator(op *tenantdb.Operator, m *Metrics, logger *zap.Logger) *Operator {
	if logger == nil {
		logger = zap.NewNop()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Operator{op: op, m: m, log: logger}
}

// Pause opens tenant's breaker until resumed: its verified messages are
// parked from every worker's next message on.
func (o *Operator) Pause(ctx context.Context, tenant uuid.UUID, actor, reason string) error {
	return o.transition(ctx, tenant, actor, Pause, reason)
}

// Resume closes tenant's breaker; the workers release its parked messages
// in order.
func (o *Operator) Resume(ctx context.Context, tenant uuid.UUID, actor, reason string) error {
	return o.transition(ctx, tenant, actor, Resume, reason)
}

func (o *Operator) transition(ctx context.Context, tenant uuid.UUID, actor string, tr Transition, reason string) error {
	if actor == "" {
		return fmt.Errorf("breaker: %s: an actor is required", tr)
	}
	err := o.op.AsOperator(ctx, tenant, actor, func(ctx context.Context, tx tenantdb.Tx) error {
		return operate(ctx, tx, tr, reason)
	})
	if err != nil {
		return fmt.Errorf("breaker: %s: %w", tr, err)
	}
	o.m.transition(tenant, tr)
	o.log.Warn("breaker "+string(tr), zap.String("tenant_id", tenant.String()), zap.String("job_id", "operator"),
		zap.String("actor", actor), zap.String("reason", reason))
	return nil
}

// Status reads tenant's breaker (closed, with nothing parked, for a tenant
// never seen).
func (o *Operator) Status(ctx context.Context, tenant uuid.UUID) (Status, error) {
	var st Status
	err := o.op.AsOperator(ctx, tenant, "status", func(ctx context.Context, tx tenantdb.Tx) error {
		var err error
		st, err = status(ctx, tx)
		return err
	})
	return st, err
}

// Tenants lists the tenants that have a breaker row or parked messages.
func (o *Operator) Tenants(ctx context.Context) ([]uuid.UUID, error) {
	rows, err := o.op.Query(ctx, `SELECT tenant_id FROM tenant_breakers UNION SELECT tenant_id FROM parked_messages ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("breaker: tenants: %w", err)
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
