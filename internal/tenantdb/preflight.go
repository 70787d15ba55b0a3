package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
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
// role) of any tenant table, that every tenant table (any table with a
// tenant_id column) has ENABLE + FORCE row level security and a policy, that
// the role can create nothing (no TEMP or CREATE on the database, no CREATE
// on any schema: a temporary table can shadow what a SECURITY DEFINER
// function reads), and that every SECURITY DEFINER function outside the
// system schemas pins search_path with pg_temp last.
func (db *DB) Preflight(ctx context.Context) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("tenantdb: preflight: %w", err)
	}
	defer conn.Release()
	pe, err := rolePreflight(ctx, conn.Conn())
	if err != nil {
		return fmt.Errorf("tenantdb: preflight: %w", err)
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
	creates, err := creatableProblems(ctx, conn.Conn())
	if err != nil {
		return fmt.Errorf("tenantdb: preflight: %w", err)
	}
	pe.Problems = append(pe.Problems, creates...)
	definers, err := unpinnedDefiners(ctx, conn.Conn())
	if err != nil {
		return fmt.Errorf("tenantdb: preflight: %w", err)
	}
	pe.Problems = append(pe.Problems, definers...)
	if len(pe.Problems) > 0 {
		return pe
	}
	return nil
}

// creatableProblems lists what the connected role could create: temporary
// objects or schemas in the database, objects in any schema.
func creatableProblems(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	var temp, create bool
	if err := conn.QueryRow(ctx, `SELECT has_database_privilege(current_user, current_database(), 'TEMPORARY'),
		has_database_privilege(current_user, current_database(), 'CREATE')`).Scan(&temp, &create); err != nil {
		return nil, err
	}
	var out []string
	if temp {
		out = append(out, "role may create temporary objects (REVOKE TEMPORARY ON DATABASE ... FROM PUBLIC and the role)")
	}
	if create {
		out = append(out, "role may create schemas in the database")
	}
	schemas, err := queryStrings(ctx, conn, `SELECT nspname FROM pg_namespace
		WHERE has_schema_privilege(current_user, oid, 'CREATE') ORDER BY nspname`)
	if err != nil {
		return nil, err
	}
	for _, s := range schemas {
		out = append(out, fmt.Sprintf("role may create objects in schema %s", s))
	}
	return out, nil
}

// unpinnedDefiners lists SECURITY DEFINER functions (outside pg_catalog and
// information_schema) whose search_path is not pinned with pg_temp last.
func unpinnedDefiners(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT p.oid::regprocedure::text, coalesce(p.proconfig, '{}')
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			name   string
			config []string
		)
		if err := rows.Scan(&name, &config); err != nil {
			return nil, err
		}
		if !PinnedSearchPath(config) {
			out = append(out, fmt.Sprintf("SECURITY DEFINER function %s does not pin search_path with pg_temp last", name))
		}
	}
	return out, rows.Err()
}

// PinnedSearchPath reports whether a function's proconfig sets search_path
// to a list whose last element is pg_temp (so the caller's temporary schema
// is searched last, never first).
func PinnedSearchPath(proconfig []string) bool {
	for _, c := range proconfig {
		v, ok := strings.CutPrefix(c, "search_path=")
		if !ok {
			continue
		}
		parts := strings.Split(v, ",")
		last := strings.Trim(strings.TrimSpace(parts[len(parts)-1]), `"`)
		return last == "pg_temp"
	}
	return false
}

func queryStrings(ctx context.Context, conn *pgx.Conn, sql string) ([]string, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// rolePreflight starts a PreflightError for the connected role with the
// problems every login must not have: SUPERUSER and BYPASSRLS both ignore
// row level security.
func rolePreflight(ctx context.Context, conn *pgx.Conn) (*PreflightError, error) {
	var (
		role             string
		super, bypassRLS bool
	)
	if err := conn.QueryRow(ctx, `SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).
		Scan(&role, &super, &bypassRLS); err != nil {
		return nil, err
	}
	pe := &PreflightError{Role: role}
	if super {
		pe.Problems = append(pe.Problems, "role is SUPERUSER")
	}
	if bypassRLS {
		pe.Problems = append(pe.Problems, "role has BYPASSRLS")
	}
	return pe, nil
}
