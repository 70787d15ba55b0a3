package tenantlimits

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Limits are one tenant's dispatch limits. Zero values mean "no limit of
// its own" (weight 1, only the global concurrency, no budget).
type Limits struct {
	// Weight is the tenant's share in the weighted round-robin (1..1000).
	Weight int `json:"weight"`
	// MaxConcurrency caps the tenant's messages in work at once (0: the
	// global limit only).
	MaxConcurrency int `json:"max_concurrency"`
	// RequestsPerMinute and TokensPerMinute budget the tenant's embedding
	// provider calls (0: unbudgeted).
	RequestsPerMinute int `json:"requests_per_minute"`
	TokensPerMinute   int `json:"tokens_per_minute"`
}

// Default is the limits of a tenant without a row.
var Default = Limits{Weight: 1}

// ErrInvalid is returned for limits out of range.
var ErrInvalid = errors.New("tenantlimits: invalid limits")

// Validate checks the ranges the database enforces too.
func (l Limits) Validate() error {
	switch {
	case l.Weight < 1 || l.Weight > 1000:
		return fmt.Errorf("%w: weight must be 1..1000, got %d", ErrInvalid, l.Weight)
	case l.MaxConcurrency < 0 || l.RequestsPerMinute < 0 || l.TokensPerMinute < 0:
		return fmt.Errorf("%w: caps and budgets must not be negative", ErrInvalid)
	}
	return nil
}

// read reads the session tenant's limits (Default without a row).
func read(ctx context.Context, tx tenantdb.Tx) (Limits, error) {
	l := Default
	err := tx.QueryRow(ctx, `SELECT weight, max_concurrency, requests_per_minute, tokens_per_minute FROM tenant_limits
		WHERE tenant_id = tenantry_current_tenant()`).
		Scan(&l.Weight, &l.MaxConcurrency, &l.RequestsPerMinute, &l.TokensPerMinute)
	if errors.Is(err, tenantdb.ErrNoRows) {
		return Default, nil
	}
	return l, err
}

// Operator sets and reads any tenant's limits as an operator (owner role).
type Operator struct {
	op *tenantdb.Operator
}

// NewOperator returns an Operator on op.
func NewOperator(op *tenantdb.Operator) *Operator { return &Operator{op: op} }

// Set stores tenant's limits and audits the change in the tenant's chain.
func (o *Operator) Set(ctx context.Context, tenant uuid.UUID, actor string, l Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if actor == "" {
		return errors.New("tenantlimits: an actor is required")
	}
	return o.op.AsOperator(ctx, tenant, actor, func(ctx context.Context, tx tenantdb.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenant_limits (tenant_id, weight, max_concurrency, requests_per_minute, tokens_per_minute, actor, updated_at)
			VALUES (tenantry_current_tenant(), $1, $2, $3, $4, $5, now())
			ON CONFLICT (tenant_id) DO UPDATE SET weight = EXCLUDED.weight, max_concurrency = EXCLUDED.max_concurrency,
				requests_per_minute = EXCLUDED.requests_per_minute, tokens_per_minute = EXCLUDED.tokens_per_minute,
				actor = EXCLUDED.actor, updated_at = now()`,
			l.Weight, l.MaxConcurrency, l.RequestsPerMinute, l.TokensPerMinute, tx.Scope().Actor()); err != nil {
			return fmt.Errorf("tenantlimits: set: %w", err)
		}
		_, err := tx.Audit(ctx, "tenant.limits", "limits", "", fmt.Sprintf("weight=%d max_concurrency=%d rpm=%d tpm=%d",
			l.Weight, l.MaxConcurrency, l.RequestsPerMinute, l.TokensPerMinute))
		return err
	})
}

// Get reads tenant's limits.
func (o *Operator) Get(ctx context.Context, tenant uuid.UUID) (Limits, error) {
	var l Limits
	err := o.op.AsOperator(ctx, tenant, "status", func(ctx context.Context, tx tenantdb.Tx) error {
		var err error
		l, err = read(ctx, tx)
		return err
	})
	return l, err
}
