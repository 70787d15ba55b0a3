package tenantdb_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// The console's reader sees every tenant's document metadata and nothing
// else: it cannot write, cannot read chunk text, and the worker role gets
// nothing from its view.
func TestConsoleReader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	a, b := tenantdbtest.NewTenant(), tenantdbtest.NewTenant()
	for i, tenant := range []string{a.String(), b.String()} {
		scope := tenantdbtest.Scope(t, []uuid.UUID{a, b}[i])
		err := gw.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO tenants (tenant_id) VALUES ($1)`, tenant); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO documents (tenant_id, document_id, source_uri, version, status, chunk_count, error)
				VALUES ($1, 'd1', 's3://b/k', 'sha256:1', 'ready', 5, ''), ($1, 'd2', 's3://b/k2', 'sha256:2', 'failed', 0, 'extract_failed')`, tenant)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	r, err := tenantdb.OpenConsoleReader(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sum, err := r.TenantDocuments(ctx)
	if err != nil || len(sum) != 2 {
		t.Fatalf("tenants: %v %v", sum, err)
	}
	for _, s := range sum {
		if s.Documents != 2 || s.Chunks != 5 || s.ByStatus["ready"] != 1 || s.FailuresByReason["extract_failed"] != 1 {
			t.Errorf("summary %+v", s)
		}
	}
	docs, err := r.Documents(ctx, a, 10)
	if err != nil || len(docs) != 2 {
		t.Fatalf("documents: %v %v", docs, err)
	}

	// Attacker's side: the owner's console session writes nothing and reads
	// no chunk; the worker role cannot use the view at all.
	owner := tenantdbtest.Conn(t, db.OwnerURL+"&options=-c%20default_transaction_read_only%3Don")
	for _, sql := range []string{
		`UPDATE documents SET status = 'ready'`,
		`INSERT INTO tenants (tenant_id) VALUES (gen_random_uuid())`,
	} {
		if _, err := owner.Exec(ctx, sql); err == nil {
			t.Errorf("a read-only owner session ran %q", sql)
		}
	}
	var n int
	if err := tenantdbtest.Conn(t, db.OwnerURL).QueryRow(ctx, `SELECT count(*) FROM chunks`).Scan(&n); err == nil {
		t.Errorf("the owner reads chunks without a tenant scope (%d rows)", n)
	}
	if _, err := tenantdbtest.Conn(t, db.WorkerURL).Exec(ctx, `SELECT * FROM console_documents`); err == nil {
		t.Error("the worker role reads the console's view")
	}
}

// The console reads every tenant's breaker (state, pause, parked count) in
// one read-only read, or one tenant's; refused parked messages are not
// waiting for release and are not counted.
func TestConsoleReaderBreakers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	paused, parkedOnly, closed := tenantdbtest.NewTenant(), tenantdbtest.NewTenant(), tenantdbtest.NewTenant()
	write := func(tenant uuid.UUID, sqls ...string) {
		t.Helper()
		if err := gw.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
			for _, sql := range sqls {
				if _, err := tx.Exec(ctx, sql, tenant); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	park := `INSERT INTO parked_messages (tenant_id, message_id, body, refused) VALUES ($1, gen_random_uuid()::text, '{}', '')`
	write(paused, `INSERT INTO tenant_breakers (tenant_id, state, manual, reason) VALUES ($1, 'open', true, 'maintenance')`, park, park,
		`INSERT INTO parked_messages (tenant_id, message_id, body, refused) VALUES ($1, 'forged', '{}', 'bad_signature')`)
	write(parkedOnly, park)
	write(closed, `INSERT INTO tenant_breakers (tenant_id) VALUES ($1)`)
	r, err := tenantdb.OpenConsoleReader(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	for _, tc := range []struct {
		name   string
		tenant uuid.UUID
		want   map[uuid.UUID]string // state manual reason parked
	}{
		{"every tenant", uuid.Nil, map[uuid.UUID]string{
			paused: "open true maintenance 2", parkedOnly: "closed false  1", closed: "closed false  0"}},
		{"one tenant", paused, map[uuid.UUID]string{paused: "open true maintenance 2"}},
		{"a tenant with parked messages only", parkedOnly, map[uuid.UUID]string{parkedOnly: "closed false  1"}},
		{"a tenant with nothing", tenantdbtest.NewTenant(), map[uuid.UUID]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.Breakers(ctx, tc.tenant)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d breakers, want %d: %+v", len(got), len(tc.want), got)
			}
			for id, want := range tc.want {
				b := got[id]
				if s := fmt.Sprintf("%s %t %s %d", b.State, b.Manual, b.Reason, b.Parked); s != want {
					t.Errorf("%s: %q, want %q", id, s, want)
				}
			}
		})
	}
}
