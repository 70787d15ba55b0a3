package tenantdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Operator is the owner role's administrative connection, for operators'
// commands that act on a tenant they name (`tenantry tenant
// pause|resume|limits|status`). It is not the worker's gateway: OpenOperator
// refuses any role that does not own the schema, so the worker role (which
// only ever holds its own credentials) cannot open one, and a Scope minted
// here never leaves the callback of AsOperator.
type Operator struct {
	pool *pgxpool.Pool
}

// ErrNotOwner is returned by OpenOperator for a role that does not own the
// schema's tenant tables.
var ErrNotOwner = errors.New("tenantdb: operator commands need the owner role")

// OpenOperator connects as the owner role (ownerURL) with a small pool.
func OpenOperator(ctx context.Context, ownerURL string) (*Operator, error) {
	if ownerURL == "" {
		return nil, errors.New("tenantdb: empty owner database URL")
	}
	pool, err := smallPool(ctx, ownerURL, false)
	if err != nil {
		return nil, err
	}
	var owner bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relname = 'tenant_breakers' AND c.relowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user))`).
		Scan(&owner); err != nil {
		pool.Close()
		return nil, fmt.Errorf("tenantdb: connect: %w", err)
	}
	if !owner {
		pool.Close()
		return nil, ErrNotOwner
	}
	return &Operator{pool: pool}, nil
}

// Close closes the pool.
func (o *Operator) Close() { o.pool.Close() }

// AsOperator runs fn in a transaction scoped to tenant with actor as the
// audit actor ("operator:<actor>") and job id "operator": row-level
// security applies exactly as for the worker, and audit rows land in that
// tenant's chain naming the operator.
func (o *Operator) AsOperator(ctx context.Context, tenant uuid.UUID, actor string, fn func(ctx context.Context, tx Tx) error) error {
	return asOwner(ctx, o.pool, tenant, "operator:"+actor, "operator", fn)
}

// asOwner runs fn through WithTenant, the one tenant-scoped transaction, on
// an owner-role connection (Operator, SupportAdmin, AuditReader): scoped to
// tenant, with actor and jobID labelling the audit rows fn writes. The
// tenant is one the owner named, not a verified envelope's, so the Scope is
// made here and never leaves fn.
func asOwner(ctx context.Context, b Beginner, tenant uuid.UUID, actor, jobID string, fn func(ctx context.Context, tx Tx) error) error {
	if tenant == uuid.Nil {
		return fmt.Errorf("%w: nil tenant id", ErrNoScope)
	}
	return WithTenant(ctx, b, Scope{tenant: tenant, actor: clip(actor, maxLabel), jobID: clip(jobID, maxLabel)}, fn)
}

// Query runs a read across every tenant (the owner_read policies of
// migration 0006 let the owner read the breaker, parked and limits tables).
func (o *Operator) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	return o.pool.Query(ctx, sql, args...)
}
