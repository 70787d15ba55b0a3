package tenantdb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

func insertDoc(ctx context.Context, tx tenantdb.Tx, tenant uuid.UUID, doc string) error {
	if _, err := tx.Exec(ctx, "INSERT INTO tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO documents (tenant_id, document_id, source_uri, version, status)
		VALUES ($1, $2, 's3://b/k', 'v1', 'ready')`, tenant, doc)
	return err
}

// 64 goroutines with interleaved tenants on a 4-connection pool: every read
// sees only its own tenant's rows, and every attempt to write a row of another
// tenant is refused by the database.
func TestConcurrentTenantsSeeAndWriteOnlyTheirOwnRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	g := tenantdbtest.OpenURL(t, db.WorkerURL)
	tenants := make([]uuid.UUID, 8)
	for i := range tenants {
		tenants[i] = uuid.New()
	}
	var foreignSeen, foreignWritten, ownRows atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			me := tenants[i%len(tenants)]
			other := tenants[(i+1)%len(tenants)]
			scope := tenantdbtest.Scope(t, me)
			for round := 0; round < 5; round++ {
				err := g.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
					if err := insertDoc(ctx, tx, me, fmt.Sprintf("doc-%d-%d", i, round)); err != nil {
						return err
					}
					rows, err := tx.Query(ctx, "SELECT tenant_id FROM documents")
					if err != nil {
						return err
					}
					defer rows.Close()
					for rows.Next() {
						var tid uuid.UUID
						if err := rows.Scan(&tid); err != nil {
							return err
						}
						if tid != me {
							foreignSeen.Add(1)
						} else {
							ownRows.Add(1)
						}
					}
					return rows.Err()
				})
				if err != nil {
					errs <- err
					return
				}
				// The attack: write a row for another tenant from inside my scope.
				err = g.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
					return insertDoc(ctx, tx, other, fmt.Sprintf("evil-%d-%d", i, round))
				})
				if err == nil {
					foreignWritten.Add(1)
				} else if !tenantdb.IsRLSViolation(err) {
					errs <- fmt.Errorf("foreign write failed for the wrong reason: %w", err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := foreignSeen.Load(); n != 0 {
		t.Errorf("saw %d rows of other tenants", n)
	}
	if n := foreignWritten.Load(); n != 0 {
		t.Errorf("wrote %d rows for other tenants", n)
	}
	if ownRows.Load() == 0 {
		t.Fatal("read no rows at all: the test proves nothing")
	}
	// Every tenant has exactly its 8 goroutines * 5 rounds documents (seen by the owner? no: by scope).
	for _, tn := range tenants {
		var n int
		err := g.WithTenant(ctx, tenantdbtest.Scope(t, tn), func(ctx context.Context, tx tenantdb.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM documents").Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != 40 {
			t.Errorf("tenant %s has %d documents, want 40", tn, n)
		}
	}
}

func TestSQLWithoutScopeIsAnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	g := tenantdbtest.OpenURL(t, db.WorkerURL)
	tenant := uuid.New()
	if err := g.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
		return insertDoc(ctx, tx, tenant, "d1")
	}); err != nil {
		t.Fatal(err)
	}
	if err := g.WithTenant(ctx, tenantdb.Scope{}, func(context.Context, tenantdb.Tx) error { return nil }); !errors.Is(err, tenantdb.ErrNoScope) {
		t.Fatalf("zero scope: got %v, want ErrNoScope", err)
	}
	raw := tenantdbtest.Conn(t, db.WorkerURL)
	for _, tc := range []struct{ name, setup, sql string }{
		{"unset select", "", "SELECT count(*) FROM documents"},
		{"unset select empty table", "", "SELECT count(*) FROM jobs"},
		{"unset insert", "", "INSERT INTO jobs (tenant_id, job_key, kind, status) VALUES ('" + tenant.String() + "', 'k', 'ingest', 'done')"},
		{"empty setting", "SELECT set_config('tenantry.tenant_id', '', false)", "SELECT count(*) FROM documents"},
		{"malformed setting", "SELECT set_config('tenantry.tenant_id', 'not-a-uuid', false)", "SELECT count(*) FROM documents"},
		{"audit without scope", "SELECT set_config('tenantry.tenant_id', '', false)", "SELECT tenantry_audit('x', 'r', 'h', '')"},
	} {
		if tc.setup != "" {
			if _, err := raw.Exec(ctx, tc.setup); err != nil {
				t.Fatal(err)
			}
		}
		_, err := raw.Exec(ctx, tc.sql)
		if err == nil {
			t.Errorf("%s: succeeded without tenant scope", tc.name)
		} else if tenantdb.SQLState(err) != "42501" {
			t.Errorf("%s: got %v, want SQLSTATE 42501", tc.name, err)
		}
	}
}

func TestConnectionReturnedToPoolCarriesNoTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	g, err := tenantdb.Open(ctx, tenantdb.Config{URL: db.WorkerURL, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	tenant := uuid.New()
	var inside string
	if err := g.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
		return tx.QueryRow(ctx, "SELECT current_setting('tenantry.tenant_id')").Scan(&inside)
	}); err != nil {
		t.Fatal(err)
	}
	if inside != tenant.String() {
		t.Fatalf("inside scope: tenant %q, want %s", inside, tenant)
	}
	// A failed callback must not leak the setting either.
	_ = g.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(context.Context, tenantdb.Tx) error { return errors.New("boom") })
	var after string
	// MaxConns 1: this is the same physical connection.
	if err := tenantdb.PoolForTest(g).QueryRow(ctx, "SELECT coalesce(current_setting('tenantry.tenant_id', true), '')").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != "" {
		t.Fatalf("pooled connection still carries tenant %q", after)
	}
}

func createRole(t *testing.T, db *tenantdbtest.Database, attrs string, grants ...string) string {
	t.Helper()
	ctx := context.Background()
	admin := tenantdbtest.Conn(t, db.AdminURL)
	name := "tenantry_probe_" + uuid.NewString()[:8]
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'probe' %s", name, attrs)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c := tenantdbtest.Conn(t, db.AdminURL)
		_, _ = c.Exec(context.Background(), "DROP OWNED BY "+name)
		_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+name)
	})
	for _, g := range grants {
		if _, err := admin.Exec(ctx, fmt.Sprintf(g, name)); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

func urlAs(db *tenantdbtest.Database, role string) string {
	return fmt.Sprintf("postgres://%s:probe@%s", role, hostPath(db.WorkerURL))
}

func hostPath(u string) string {
	_, after, _ := strings.Cut(u, "@")
	return after
}

func TestPreflightRefusesRolesThatCouldBypassRLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	grantWorkerLike := "GRANT tenantry_worker TO %s"
	cases := []struct {
		name  string
		attrs string
		grant []string
		want  string
	}{
		{"superuser", "SUPERUSER", nil, "SUPERUSER"},
		{"bypassrls", "BYPASSRLS", []string{grantWorkerLike}, "BYPASSRLS"},
		{"member of the owner", "", []string{"GRANT tenantry_owner TO %s"}, "owns"},
		{"the owner itself", "", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := db.OwnerURL
			if tc.name != "the owner itself" {
				u = urlAs(db, createRole(t, db, tc.attrs, tc.grant...))
			}
			g, err := tenantdb.Open(ctx, tenantdb.Config{URL: u, MaxConns: 1})
			if err == nil {
				g.Close()
				t.Fatal("preflight accepted a role that can bypass RLS")
			}
			var pe *tenantdb.PreflightError
			if !errors.As(err, &pe) || !errors.Is(err, tenantdb.ErrUnsafeRole) {
				t.Fatalf("got %v, want PreflightError", err)
			}
			if tc.want != "" && !contains(pe.Problems, tc.want) {
				t.Fatalf("problems %q do not mention %q", pe.Problems, tc.want)
			}
		})
	}
	// And the real worker role passes.
	g, err := tenantdb.Open(ctx, tenantdb.Config{URL: db.WorkerURL, MaxConns: 1})
	if err != nil {
		t.Fatalf("worker role refused: %v", err)
	}
	g.Close()
}

func TestPreflightRefusesTableWithoutForcedRLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	owner := tenantdbtest.Conn(t, db.OwnerURL)
	if _, err := owner.Exec(ctx, "ALTER TABLE chunks NO FORCE ROW LEVEL SECURITY"); err != nil {
		t.Fatal(err)
	}
	_, err := tenantdb.Open(ctx, tenantdb.Config{URL: db.WorkerURL, MaxConns: 1})
	var pe *tenantdb.PreflightError
	if !errors.As(err, &pe) || !contains(pe.Problems, "chunks lacks ENABLE+FORCE") {
		t.Fatalf("got %v, want a preflight error about chunks", err)
	}
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestAuditTakesTenantFromSessionOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	g := tenantdbtest.OpenURL(t, db.WorkerURL)
	a, b := uuid.New(), uuid.New()
	err := g.WithTenant(ctx, tenantdbtest.Scope(t, a), func(ctx context.Context, tx tenantdb.Tx) error {
		// Name the other tenant in every argument the function has.
		_, err := tx.Audit(ctx, "document.ingested", "tenant:"+b.String(), b.String(), `{"tenant_id":"`+b.String()+`"}`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	attacks := []struct{ name, sql string }{
		{"direct insert for other tenant", "INSERT INTO audit_events (tenant_id, seq, occurred_at, actor, job_id, action, resource, payload_hash, detail, prev_hash, hash) VALUES ('" + b.String() + "', 1, now(), '', '', 'x', '', '', '', '\\x00', '\\x00')"},
		{"direct insert for own tenant", "INSERT INTO audit_events (tenant_id, seq, occurred_at, actor, job_id, action, resource, payload_hash, detail, prev_hash, hash) VALUES ('" + a.String() + "', 2, now(), '', '', 'x', '', '', '', '\\x00', '\\x00')"},
		{"tamper head", "UPDATE audit_heads SET seq = 0"},
		{"call with a tenant parameter", "SELECT tenantry_audit('" + b.String() + "'::uuid, 'x', 'r', 'h')"},
	}
	for _, at := range attacks {
		err := g.WithTenant(ctx, tenantdbtest.Scope(t, a), func(ctx context.Context, tx tenantdb.Tx) error {
			_, err := tx.Exec(ctx, at.sql)
			return err
		})
		if err == nil {
			t.Errorf("%s: succeeded", at.name)
		}
	}
	count := func(tn uuid.UUID) int {
		var n int
		if err := g.WithTenant(ctx, tenantdbtest.Scope(t, tn), func(ctx context.Context, tx tenantdb.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM audit_events").Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(a); n != 1 {
		t.Errorf("tenant a has %d audit rows, want 1", n)
	}
	if n := count(b); n != 0 {
		t.Errorf("tenant b has %d audit rows, want 0 (the function wrote where an argument pointed)", n)
	}
}

func TestWorkerCannotAlterAuditRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	g := tenantdbtest.OpenURL(t, db.WorkerURL)
	a := uuid.New()
	scope := tenantdbtest.Scope(t, a)
	if err := g.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		_, err := tx.Audit(ctx, "document.ingested", "doc:1", "h", "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"UPDATE audit_events SET action = 'nothing.happened'",
		"DELETE FROM audit_events",
		"TRUNCATE audit_events",
		"DELETE FROM audit_heads",
		"ALTER TABLE audit_events DISABLE ROW LEVEL SECURITY",
		"SELECT * FROM security_events",
	} {
		err := g.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
		if err == nil {
			t.Errorf("worker could run %q", sql)
		}
	}
}

func TestAuditChainVerifiesAndDetectsTampering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	g := tenantdbtest.OpenURL(t, db.WorkerURL)
	a, b := uuid.New(), uuid.New()
	// Interleave concurrent appends for two tenants.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		for _, tn := range []uuid.UUID{a, b} {
			wg.Add(1)
			go func(tn uuid.UUID, i int) {
				defer wg.Done()
				if err := g.WithTenant(ctx, tenantdbtest.Scope(t, tn), func(ctx context.Context, tx tenantdb.Tx) error {
					_, err := tx.Audit(ctx, "document.ingested", fmt.Sprintf("doc:%d", i), "sha256:x", `{"n":1}`)
					return err
				}); err != nil {
					t.Error(err)
				}
			}(tn, i)
		}
	}
	wg.Wait()
	ownerDB, err := tenantdb.OpenAuditReader(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer ownerDB.Close()
	verify := func(tn uuid.UUID) error {
		c := audit.NewChain(tn)
		if err := ownerDB.ScanAudit(ctx, tn, c.Add); err != nil {
			return err
		}
		seq, hash, err := ownerDB.AuditHead(ctx, tn)
		if err != nil {
			return err
		}
		if c.Len() != 20 {
			return fmt.Errorf("chain has %d rows, want 20", c.Len())
		}
		return c.Close(seq, hash)
	}
	for _, tn := range []uuid.UUID{a, b} {
		if err := verify(tn); err != nil {
			t.Fatalf("untampered chain: %v", err)
		}
	}
	tenants, err := ownerDB.AuditTenants(ctx)
	if err != nil || len(tenants) != 2 {
		t.Fatalf("AuditTenants = %v, %v", tenants, err)
	}
	// Tamper as the owner (it must set the tenant: FORCE RLS binds the owner too).
	owner := tenantdbtest.Conn(t, db.OwnerURL)
	tampers := []string{
		"UPDATE audit_events SET resource = 'doc:forged' WHERE seq = 7",
		"DELETE FROM audit_events WHERE seq = 20",
	}
	for _, sql := range tampers {
		tx, err := owner.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SELECT set_config('tenantry.tenant_id', $1, true)", a.String()); err != nil {
			t.Fatal(err)
		}
		if n, err := tx.Exec(ctx, sql); err != nil || n.RowsAffected() != 1 {
			t.Fatalf("%s: %v (%d rows)", sql, err, n.RowsAffected())
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := verify(a); !errors.Is(err, audit.ErrBroken) {
			t.Fatalf("after %q: verify = %v, want ErrBroken", sql, err)
		}
	}
	if err := verify(b); err != nil {
		t.Fatalf("tenant b's chain broke with a's: %v", err)
	}
}

// Bulk loads go through the same WITH CHECK policy as inserts: one foreign
// row in a batch fails the whole batch, on both of CopyFrom's paths (one
// multi-row INSERT, and the staging table for larger loads), wherever the
// foreign row is.
func TestCopyFromCannotSmuggleForeignRows(t *testing.T) {
	t.Parallel()
	cols := []string{"tenant_id", "job_key", "kind", "status"}
	for _, tc := range []struct {
		name    string
		n       int // rows
		foreign int // index of the foreign row
	}{
		{name: "insert/last", n: 2, foreign: 1},
		{name: "insert/first", n: tenantdb.InsertMaxRows, foreign: 0},
		{name: "staging/last", n: tenantdb.InsertMaxRows + 1, foreign: tenantdb.InsertMaxRows},
		{name: "staging/middle", n: 300, foreign: 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := tenantdbtest.NewDatabase(t)
			g := db.Open(t)
			me, other := uuid.New(), uuid.New()
			rows := func(foreign int) [][]any {
				out := make([][]any, tc.n)
				for i := range out {
					owner := me
					if i == foreign {
						owner = other
					}
					out[i] = []any{owner, fmt.Sprintf("job-%d", i), "ingest", "done"}
				}
				return out
			}
			err := g.WithTenant(ctx, tenantdbtest.Scope(t, me), func(ctx context.Context, tx tenantdb.Tx) error {
				_, err := tx.CopyFrom(ctx, "jobs", cols, rows(tc.foreign))
				return err
			})
			if !tenantdb.IsRLSViolation(err) {
				t.Fatalf("got %v, want an RLS violation", err)
			}
			var n int
			err = g.WithTenant(ctx, tenantdbtest.Scope(t, me), func(ctx context.Context, tx tenantdb.Tx) error {
				if err := tx.QueryRow(ctx, "SELECT count(*) FROM jobs").Scan(&n); err != nil {
					return err
				}
				if n != 0 {
					return fmt.Errorf("rows left by the refused load: %d", n)
				}
				copied, err := tx.CopyFrom(ctx, "jobs", cols, rows(-1))
				if err != nil {
					return err
				}
				if copied != int64(tc.n) {
					return fmt.Errorf("CopyFrom reported %d rows, want %d", copied, tc.n)
				}
				return tx.QueryRow(ctx, "SELECT count(*) FROM jobs").Scan(&n)
			})
			if err != nil || n != tc.n {
				t.Fatalf("own rows: n=%d err=%v", n, err)
			}
		})
	}
}

// A second load in one transaction adds only its own rows (the staging table
// is emptied between loads), and a row of the wrong width is refused.
func TestCopyFromTwiceAndBadRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	g := db.Open(t)
	me := uuid.New()
	cols := []string{"tenant_id", "job_key", "kind", "status"}
	batch := func(prefix string, n int) [][]any {
		out := make([][]any, n)
		for i := range out {
			out[i] = []any{me, fmt.Sprintf("%s-%d", prefix, i), "ingest", "done"}
		}
		return out
	}
	var n int
	err := g.WithTenant(ctx, tenantdbtest.Scope(t, me), func(ctx context.Context, tx tenantdb.Tx) error {
		for _, b := range []struct {
			prefix string
			n      int
		}{{"a", 100}, {"b", 100}, {"c", 3}, {"d", 0}} {
			if _, err := tx.CopyFrom(ctx, "jobs", cols, batch(b.prefix, b.n)); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, "SELECT count(*) FROM jobs").Scan(&n)
	})
	if err != nil || n != 203 {
		t.Fatalf("two loads: n=%d err=%v, want 203 rows", n, err)
	}
	err = g.WithTenant(ctx, tenantdbtest.Scope(t, me), func(ctx context.Context, tx tenantdb.Tx) error {
		_, err := tx.CopyFrom(ctx, "jobs", cols, [][]any{{me, "short", "ingest"}})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "3 values for 4 columns") {
		t.Fatalf("short row: got %v", err)
	}
}
