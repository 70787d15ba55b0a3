package tenantdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// TestAuditEachWritesAsEachScope: AuditEach appends one chained row per
// entry, each with its own job and actor, in order, after the rows written
// before it in the transaction; the transaction then acts as the last
// entry's scope. A batch holding a scope of another tenant, or the zero
// scope, is refused whole: nothing of it is written and the scope stays.
func TestAuditEachWritesAsEachScope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	g := tenantdbtest.OpenURL(t, db.WorkerURL)
	a, b := uuid.New(), uuid.New()
	first := tenantdbtest.Scope(t, a).WithJob("job-1")
	second := tenantdbtest.Scope(t, a).WithJob("job-2").WithActor("someone-else")
	third := tenantdbtest.Scope(t, a).WithJob("job-3")
	refusals := []struct {
		name  string
		scope tenantdb.Scope
		want  error
	}{
		{"another tenant's verified scope", tenantdbtest.Scope(t, b).WithJob("job-b"), tenantdb.ErrOtherTenant},
		{"the zero scope", tenantdb.Scope{}, tenantdb.ErrNoScope},
	}
	entry := func(s tenantdb.Scope, resource string) tenantdb.AuditEntry {
		return tenantdb.AuditEntry{Scope: s, Action: "document.ingested", Resource: resource, PayloadHash: "h-" + resource, Detail: "{}"}
	}
	err := g.WithTenant(ctx, first, func(ctx context.Context, tx tenantdb.Tx) error {
		if _, err := tx.Audit(ctx, "document.ingested", "r1", "h1", "{}"); err != nil {
			return err
		}
		seqs, err := tx.AuditEach(ctx, []tenantdb.AuditEntry{entry(second, "r2"), entry(third, "r3")})
		if err != nil {
			return err
		}
		if len(seqs) != 2 || seqs[0] != 2 || seqs[1] != 3 {
			t.Errorf("AuditEach sequence numbers %v, want [2 3]", seqs)
		}
		if tx.Scope() != third {
			t.Errorf("after AuditEach the scope is %v, want the last entry's", tx.Scope())
		}
		for _, r := range refusals {
			_, err := tx.AuditEach(ctx, []tenantdb.AuditEntry{entry(second, "refused-"+r.name), entry(r.scope, "refused-"+r.name)})
			if !errors.Is(err, r.want) {
				t.Errorf("%s: AuditEach = %v, want %v", r.name, err, r.want)
			}
		}
		if tx.Scope() != third {
			t.Errorf("a refused AuditEach changed the scope to %v", tx.Scope())
		}
		if seqs, err := tx.AuditEach(ctx, nil); err != nil || len(seqs) != 0 {
			t.Errorf("AuditEach(nil) = %v, %v; want nothing", seqs, err)
		}
		_, err = tx.Audit(ctx, "document.ingested", "r4", "h4", "{}")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ resource, actor, job string }
	var got []row
	if err := g.WithTenant(ctx, tenantdbtest.Scope(t, a), func(ctx context.Context, tx tenantdb.Tx) error {
		rows, err := tx.Query(ctx, "SELECT resource, actor, job_id FROM audit_events ORDER BY seq")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.resource, &r.actor, &r.job); err != nil {
				return err
			}
			got = append(got, r)
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}
	want := []row{{"r1", first.Actor(), "job-1"}, {"r2", "someone-else", "job-2"}, {"r3", third.Actor(), "job-3"}, {"r4", third.Actor(), "job-3"}}
	if len(got) != len(want) {
		t.Fatalf("audit rows %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	r, err := tenantdb.OpenAuditReader(ctx, db.AuditorURL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	reps, err := audit.VerifyAll(ctx, r, []uuid.UUID{a})
	if err != nil || audit.Broken(reps) {
		t.Fatalf("chain: %+v %v", reps, err)
	}
}

// TestExecEach: the statements run in order in the transaction, each
// reports its own affected rows, and the first failing one's error is
// returned (the transaction rolls back: nothing of it stays).
func TestExecEach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	g := tenantdbtest.OpenURL(t, db.WorkerURL)
	tn := uuid.New()
	scope := tenantdbtest.Scope(t, tn)
	const ins = `INSERT INTO jobs (tenant_id, job_key, kind, status) VALUES ($1, $2, 'ingest', 'running')`
	err := g.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		n, err := tx.ExecEach(ctx,
			tenantdb.Stmt{SQL: ins, Args: []any{tn, "a"}},
			tenantdb.Stmt{SQL: ins, Args: []any{tn, "b"}},
			// Sees the two rows above: the statements run in order.
			tenantdb.Stmt{SQL: `UPDATE jobs SET status = 'done' WHERE job_key IN ('a', 'b')`},
			tenantdb.Stmt{SQL: `UPDATE jobs SET status = 'done' WHERE job_key = 'none'`},
		)
		if err != nil {
			return err
		}
		if want := []int64{1, 1, 2, 0}; len(n) != len(want) || n[0] != want[0] || n[1] != want[1] || n[2] != want[2] || n[3] != want[3] {
			t.Errorf("rows affected %v, want %v", n, want)
		}
		if n, err := tx.ExecEach(ctx); err != nil || n != nil {
			t.Errorf("ExecEach() = %v, %v; want nothing", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	failing := []struct {
		name  string
		stmts []tenantdb.Stmt
	}{
		{"a duplicate key in the middle", []tenantdb.Stmt{{SQL: ins, Args: []any{tn, "c"}}, {SQL: ins, Args: []any{tn, "a"}}, {SQL: ins, Args: []any{tn, "d"}}}},
		{"another tenant's row (RLS)", []tenantdb.Stmt{{SQL: ins, Args: []any{tn, "e"}}, {SQL: ins, Args: []any{uuid.New(), "f"}}}},
	}
	for _, f := range failing {
		err := g.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
			_, err := tx.ExecEach(ctx, f.stmts...)
			return err
		})
		if err == nil {
			t.Errorf("%s: ExecEach succeeded", f.name)
		}
	}
	var keys []string
	if err := g.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		rows, err := tx.Query(ctx, "SELECT job_key || ':' || status FROM jobs ORDER BY job_key")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] != "a:done" || keys[1] != "b:done" {
		t.Errorf("jobs %v, want [a:done b:done] (the failed batches left nothing)", keys)
	}
}
