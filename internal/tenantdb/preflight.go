package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrUnsafeRole is returned by Preflight when the connected role could read or
// write across tenants.
var ErrUnsafeRole = errors.New("tenantdb: refusing to run: the database role could bypass row level security")

// PreflightError lists every problem Preflight found.
type PreflightError struct {
	Role     string
	Problems []string
}

func (e *PreflightError) Error() string {
	return fmt.Sprintf("%v (role %q): %s", ErrUnsafeRole, e.Role, strings.Join(e.Problems, "; "))
}

func (e *PreflightError) Unwrap() error { return ErrUnsafeRole }

// Preflight checks that the connected role is safe to run tenant work as:
// not superuser, no BYPASSRLS, not the owner (nor a member of the owner's
// role) of any tenant table, and that every tenant table (any table with a
// tenant_id column) has ENABLE + FORCE row level security and a policy.
func (db *DB) Preflight(ctx context.Context) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("tenantdb: preflight: %w", err)
	}
	defer conn.Release()
	var (
		role             string
		super, bypassRLS bool
	)
	if err := conn.QueryRow(ctx, `SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).
		Scan(&role, &super, &bypassRLS); err != nil {
		return fmt.Errorf("tenantdb: preflight: %w", err)
	}
	pe := &PreflightError{Role: role}
	if super {
		pe.Problems = append(pe.Problems, "role is SUPERUSER")
	}
	if bypassRLS {
		pe.Problems = append(pe.Problems, "role has BYPASSRLS")
	}
	rows, err := conn.Query(ctx, `
		SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
		       pg_has_role(current_user, c.relowner, 'MEMBER') AS owner_or_member,
		       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) AS has_policy
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
		WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY (current_schemas(false))
		ORDER BY c.relname`)
	if err != nil {
		return fmt.Errorf("tenantdb: preflight: %w", err)
	}
	tables := 0
	for rows.Next() {
		var (
			name                                 string
			rls, force, ownerOrMember, hasPolicy bool
		)
		if err := rows.Scan(&name, &rls, &force, &ownerOrMember, &hasPolicy); err != nil {
			rows.Close()
			return fmt.Errorf("tenantdb: preflight: %w", err)
		}
		tables++
		if ownerOrMember {
			pe.Problems = append(pe.Problems, fmt.Sprintf("role owns (or may act as the owner of) table %s", name))
		}
		if !rls || !force {
			pe.Problems = append(pe.Problems, fmt.Sprintf("table %s lacks ENABLE+FORCE ROW LEVEL SECURITY", name))
		}
		if !hasPolicy {
			pe.Problems = append(pe.Problems, fmt.Sprintf("table %s has no RLS policy", name))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("tenantdb: preflight: %w", err)
	}
	if tables == 0 {
		pe.Problems = append(pe.Problems, "no tenant tables found (run `tenantry migrate` first)")
	}
	if len(pe.Problems) > 0 {
		return pe
	}
	return nil
}
