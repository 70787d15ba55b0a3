package tenantdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Rows and Row are pgx's result types, re-exported so callers need not import
// pgx (only this package may).
type (
	Rows = pgx.Rows
	Row  = pgx.Row
)

// ErrNoRows is returned by Row.Scan when the query selected no row.
var ErrNoRows = pgx.ErrNoRows

// Tx is a tenant-scoped transaction. It is valid only inside the WithTenant
// callback that received it.
type Tx struct {
	tx    pgx.Tx
	scope Scope
}

// Scope is the tenant scope the transaction runs as.
func (t Tx) Scope() Scope { return t.scope }

// Exec runs a statement and returns the number of rows it affected.
func (t Tx) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// Query runs a query. Close the rows (or read them to the end).
func (t Tx) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	return t.tx.Query(ctx, sql, args...)
}

// QueryRow runs a query expected to return at most one row.
func (t Tx) QueryRow(ctx context.Context, sql string, args ...any) Row {
	return t.tx.QueryRow(ctx, sql, args...)
}

// CopyFrom bulk-loads rows into table under the table's RLS WITH CHECK
// policy: one foreign row fails the whole load. PostgreSQL refuses COPY FROM
// into a table with row level security (SQLSTATE 0A000), so:
//
//   - up to insertMaxRows rows go in as one multi-row INSERT ... VALUES with
//     bound parameters (the common case: a document's chunks);
//   - more rows are copied with the binary COPY protocol into a temporary
//     staging table shaped like table, then moved with INSERT ... SELECT.
//
// Either way the rows are checked by the policy as for a plain INSERT.
func (t Tx) CopyFrom(ctx context.Context, table string, columns []string, rows [][]any) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	qt := pgx.Identifier{table}.Sanitize()
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	list := strings.Join(cols, ", ")
	if len(rows) <= insertMaxRows {
		return t.insertValues(ctx, qt, list, len(columns), rows)
	}
	tmp := "tenantry_copy_" + table
	qtmp := pgx.Identifier{tmp}.Sanitize()
	// The staging table lives as long as the pooled connection (creating it
	// per transaction cost as much as the HNSW insert); its rows never
	// outlive a transaction: ON COMMIT DELETE ROWS, and a rollback discards them.
	if _, err := t.tx.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS "+qtmp+" (LIKE "+qt+" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"); err != nil {
		return 0, fmt.Errorf("tenantdb: copy staging table: %w", err)
	}
	if _, err := t.tx.Exec(ctx, "TRUNCATE "+qtmp); err != nil {
		return 0, fmt.Errorf("tenantdb: copy staging table: %w", err)
	}
	if _, err := t.tx.CopyFrom(ctx, pgx.Identifier{tmp}, columns, pgx.CopyFromRows(rows)); err != nil {
		return 0, fmt.Errorf("tenantdb: copy: %w", err)
	}
	tag, err := t.tx.Exec(ctx, "INSERT INTO "+qt+" ("+list+") SELECT "+list+" FROM "+qtmp)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// insertMaxRows is the most rows CopyFrom inserts with one multi-row INSERT
// rather than through the staging table. For a few rows the staging table's
// TRUNCATE, extra COPY and commit-time truncation cost more than the rows
// (make bench: TenantTx/chunks16 vs chunks256); each row count is its own
// prepared statement, so this also bounds the statements cached per table.
const insertMaxRows = 64

func (t Tx) insertValues(ctx context.Context, qt, list string, ncols int, rows [][]any) (int64, error) {
	var b strings.Builder
	b.WriteString("INSERT INTO " + qt + " (" + list + ") VALUES ")
	args := make([]any, 0, len(rows)*ncols)
	for r, row := range rows {
		if len(row) != ncols {
			return 0, fmt.Errorf("tenantdb: copy: row %d has %d values for %d columns", r, len(row), ncols)
		}
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range ncols {
			if c > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", r*ncols+c+1)
		}
		b.WriteByte(')')
		args = append(args, row...)
	}
	tag, err := t.tx.Exec(ctx, b.String(), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// Audit appends one row to the session tenant's audit chain, in this
// transaction, through the SECURITY DEFINER function tenantry_audit (which
// takes the tenant, actor and job id from the session, never from arguments).
// detail must not contain document text.
func (t Tx) Audit(ctx context.Context, action, resource, payloadHash, detail string) (int64, error) {
	var seq int64
	if err := t.tx.QueryRow(ctx, "SELECT tenantry_audit($1, $2, $3, $4)", action, resource, payloadHash, detail).Scan(&seq); err != nil {
		return 0, fmt.Errorf("tenantdb: audit %s: %w", action, err)
	}
	return seq, nil
}
