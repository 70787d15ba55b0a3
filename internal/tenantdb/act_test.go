package tenantdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// TestActSwitchesJobNeverTenant: inside one tenant transaction, Act makes
// another job of the same tenant the author of the following audit rows
// (grouped writes), and refuses a scope of another tenant or an unverified
// one — after which rows are still written for the transaction's tenant,
// by the job it had.
func TestActSwitchesJobNeverTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	g := tenantdbtest.OpenURL(t, db.WorkerURL)
	a, b := uuid.New(), uuid.New()
	first := tenantdbtest.Scope(t, a).WithJob("job-1")
	second := tenantdbtest.Scope(t, a).WithJob("job-2").WithActor("someone-else")
	refusals := []struct {
		name  string
		scope tenantdb.Scope
		want  error
	}{
		{"another tenant's verified scope", tenantdbtest.Scope(t, b).WithJob("job-b"), tenantdb.ErrOtherTenant},
		{"the zero scope", tenantdb.Scope{}, tenantdb.ErrNoScope},
	}
	err := g.WithTenant(ctx, first, func(ctx context.Context, tx tenantdb.Tx) error {
		if _, err := tx.Audit(ctx, "document.ingested", "r1", "h1", "{}"); err != nil {
			return err
		}
		if err := tx.Act(ctx, second); err != nil {
			return err
		}
		if _, err := tx.Audit(ctx, "document.ingested", "r2", "h2", "{}"); err != nil {
			return err
		}
		for _, r := range refusals {
			if err := tx.Act(ctx, r.scope); !errors.Is(err, r.want) {
				t.Errorf("%s: Act = %v, want %v", r.name, err, r.want)
			}
		}
		if tx.Scope() != second {
			t.Errorf("a refused Act changed the scope to %v", tx.Scope())
		}
		_, err := tx.Audit(ctx, "document.ingested", "r3", "h3", "{}")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ resource, actor, job string }
	read := func(tenant uuid.UUID) []row {
		var out []row
		if err := g.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
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
				out = append(out, r)
			}
			return rows.Err()
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := read(a)
	want := []row{{"r1", first.Actor(), "job-1"}, {"r2", "someone-else", "job-2"}, {"r3", "someone-else", "job-2"}}
	if len(got) != len(want) {
		t.Fatalf("tenant a's audit rows: %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if rows := read(b); len(rows) != 0 {
		t.Errorf("tenant b has audit rows %+v: Act moved the transaction to another tenant", rows)
	}
}
