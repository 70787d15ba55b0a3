package tenantdb

import (
	"context"
	"errors"
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
// into a table with row level security (SQLSTATE 0A000), and the worker role
// may not create a temporary staging table (a temp table can shadow what a
// SECURITY DEFINER function reads; migration 0002), so rows go in as
// multi-row INSERT ... VALUES statements of at most insertMaxRows rows with
// bound parameters, pipelined in one round trip. Every row is checked by the
// policy as for a plain INSERT.
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
		sql, args, err := insertValues(qt, list, len(columns), rows)
		if err != nil {
			return 0, err
		}
		tag, err := t.tx.Exec(ctx, sql, args...)
		if err != nil {
			return 0, err
		}
		return tag.RowsAffected(), nil
	}
	batch := &pgx.Batch{}
	for start := 0; start < len(rows); start += insertMaxRows {
		sql, args, err := insertValues(qt, list, len(columns), rows[start:min(start+insertMaxRows, len(rows))])
		if err != nil {
			return 0, err
		}
		batch.Queue(sql, args...)
	}
	br := t.tx.SendBatch(ctx, batch)
	var n int64
	for range batch.Len() {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return 0, err
		}
		n += tag.RowsAffected()
	}
	if err := br.Close(); err != nil {
		return 0, err
	}
	return n, nil
}

// insertMaxRows is the most rows of one INSERT statement. Each row count is
// its own prepared statement, so this also bounds the statements cached per
// table (a full batch reuses one); 64 rows of a 1024-d chunk are ~270 KB of
// parameters.
const insertMaxRows = 64

func insertValues(qt, list string, ncols int, rows [][]any) (string, []any, error) {
	var b strings.Builder
	b.WriteString("INSERT INTO " + qt + " (" + list + ") VALUES ")
	args := make([]any, 0, len(rows)*ncols)
	for r, row := range rows {
		if len(row) != ncols {
			return "", nil, fmt.Errorf("tenantdb: copy: row %d has %d values for %d columns", r, len(row), ncols)
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
	return b.String(), args, nil
}

// ErrOtherTenant is returned by Tx.Act for a scope of another tenant than
// the transaction's.
var ErrOtherTenant = errors.New("tenantdb: scope of another tenant")

// Act makes scope the transaction's actor and job from here on (until
// Act is called again), for the audit rows of several units of work of the
// same tenant written in one transaction (grouped writes). The tenant never
// changes: scope must be a verified scope of the transaction's tenant, or
// Act fails with ErrNoScope or ErrOtherTenant and changes nothing.
func (t *Tx) Act(ctx context.Context, scope Scope) error {
	if err := t.mayAct(scope); err != nil {
		return err
	}
	if _, err := t.tx.Exec(ctx, actSQL, scope.actor, scope.jobID); err != nil {
		return fmt.Errorf("tenantdb: act as job: %w", err)
	}
	t.scope = scope
	return nil
}

// actSQL sets the session's actor and job (Act, AuditEach); auditSQL
// appends an audit row as them (Audit, AuditEach).
const (
	actSQL   = `SELECT set_config('tenantry.actor', $1, true), set_config('tenantry.job_id', $2, true)`
	auditSQL = "SELECT tenantry_audit($1, $2, $3, $4)"
)

// mayAct is the rule of Act and AuditEach: scope must be a verified scope
// of the transaction's tenant.
func (t *Tx) mayAct(scope Scope) error {
	if scope.IsZero() {
		return ErrNoScope
	}
	if scope.tenant != t.scope.tenant {
		return ErrOtherTenant
	}
	return nil
}

// Audit appends one row to the session tenant's audit chain, in this
// transaction, through the SECURITY DEFINER function tenantry_audit (which
// takes the tenant, actor and job id from the session, never from arguments).
// detail must not contain document text.
func (t Tx) Audit(ctx context.Context, action, resource, payloadHash, detail string) (int64, error) {
	var seq int64
	if err := t.tx.QueryRow(ctx, auditSQL, action, resource, payloadHash, detail).Scan(&seq); err != nil {
		return 0, fmt.Errorf("tenantdb: audit %s: %w", action, err)
	}
	return seq, nil
}

// Stmt is one statement of Tx.ExecEach.
type Stmt struct {
	SQL  string
	Args []any
}

// ExecEach runs stmts in order in one round trip (pipelined) and returns
// the number of rows each affected. The first failing statement's error is
// returned; the statements after it do not run (the transaction is aborted,
// as after a failed Exec).
func (t Tx) ExecEach(ctx context.Context, stmts ...Stmt) ([]int64, error) {
	if len(stmts) == 0 {
		return nil, nil
	}
	batch := &pgx.Batch{}
	for _, s := range stmts {
		batch.Queue(s.SQL, s.Args...)
	}
	br := t.tx.SendBatch(ctx, batch)
	n := make([]int64, len(stmts))
	for i := range stmts {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return nil, err
		}
		n[i] = tag.RowsAffected()
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	return n, nil
}

// AuditEntry is one row of Tx.AuditEach, written as Scope's actor and job.
type AuditEntry struct {
	Scope                                 Scope
	Action, Resource, PayloadHash, Detail string
}

// AuditEach appends entries to the session tenant's audit chain in order,
// each as its own scope's actor and job — Act then Audit for each entry —
// in one round trip, and returns their sequence numbers. Every scope is
// checked first (ErrNoScope, ErrOtherTenant): a refused entry writes
// nothing and leaves the transaction's scope as it was. Afterwards the
// transaction acts as the last entry's scope.
func (t *Tx) AuditEach(ctx context.Context, entries []AuditEntry) ([]int64, error) {
	for _, e := range entries {
		if err := t.mayAct(e.Scope); err != nil {
			return nil, err
		}
	}
	if len(entries) == 0 {
		return nil, nil
	}
	batch := &pgx.Batch{}
	for _, e := range entries {
		batch.Queue(actSQL, e.Scope.actor, e.Scope.jobID)
		batch.Queue(auditSQL, e.Action, e.Resource, e.PayloadHash, e.Detail)
	}
	br := t.tx.SendBatch(ctx, batch)
	seqs := make([]int64, len(entries))
	for i, e := range entries {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, fmt.Errorf("tenantdb: act as job: %w", err)
		}
		if err := br.QueryRow().Scan(&seqs[i]); err != nil {
			_ = br.Close()
			return nil, fmt.Errorf("tenantdb: audit %s: %w", e.Action, err)
		}
		t.scope = e.Scope
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("tenantdb: audit: %w", err)
	}
	return seqs, nil
}
