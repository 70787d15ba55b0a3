package tenantdb_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// The outside probe of issue 12, replayed as the worker role: shadow the
// audit tables in pg_temp with a trigger that grants the worker what only the
// owner may grant, then call tenantry_audit. The database refuses the temp
// table outright; and even where an operator had granted TEMP back, the
// pinned search_path keeps the definer function on the real tables.
func TestDefinerFunctionIgnoresCallersTempSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	victim, attacker := uuid.New(), uuid.New()
	// Raw worker connections (what an attacker with the worker's SQL has);
	// the gateway's preflight would refuse this database once TEMP is back.
	worker := tenantdbtest.Conn(t, db.WorkerURL)
	if err := auditAs(ctx, worker, victim); err != nil {
		t.Fatal(err)
	}
	_, err := worker.Exec(ctx, "CREATE TEMP TABLE probe (x int)")
	if code := sqlState(err); code != "42501" {
		t.Fatalf("worker created a temporary table (err %v): TEMP must be revoked", err)
	}

	// An operator grants TEMP back (preflight would refuse to start; the
	// function must be safe regardless).
	admin := tenantdbtest.Conn(t, db.AdminURL)
	if _, err := admin.Exec(ctx, fmt.Sprintf("GRANT TEMPORARY ON DATABASE %s TO tenantry_worker", db.Name)); err != nil {
		t.Fatal(err)
	}
	worker = tenantdbtest.Conn(t, db.WorkerURL)
	setup := []string{
		`CREATE TEMP TABLE audit_heads (tenant_id uuid PRIMARY KEY, seq bigint NOT NULL, hash bytea NOT NULL)`,
		`CREATE TEMP TABLE audit_events (tenant_id uuid NOT NULL, seq bigint NOT NULL, occurred_at timestamptz NOT NULL,
			actor text NOT NULL, job_id text NOT NULL, action text NOT NULL, resource text NOT NULL,
			payload_hash text NOT NULL, detail text NOT NULL, prev_hash bytea NOT NULL, hash bytea NOT NULL)`,
		`CREATE FUNCTION pg_temp.escalate() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			EXECUTE 'GRANT SELECT ON public.security_events TO tenantry_worker';
			PERFORM set_config('tenantry.tenant_id', '` + victim.String() + `', true);
			EXECUTE 'UPDATE public.audit_events SET detail = ''rewritten'' WHERE tenant_id = ''` + victim.String() + `''';
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER escalate BEFORE INSERT ON pg_temp.audit_events FOR EACH ROW EXECUTE FUNCTION pg_temp.escalate()`,
		`CREATE TRIGGER escalate BEFORE INSERT ON pg_temp.audit_heads FOR EACH ROW EXECUTE FUNCTION pg_temp.escalate()`,
		`GRANT ALL ON pg_temp.audit_heads, pg_temp.audit_events TO PUBLIC`,
	}
	for _, s := range setup {
		if _, err := worker.Exec(ctx, s); err != nil {
			t.Fatalf("attack setup %q: %v", s[:30], err)
		}
	}
	err = auditAs(ctx, worker, attacker)
	if err != nil {
		t.Fatalf("audit call: %v", err)
	}

	var tempRows int
	if err := worker.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_temp.audit_events) + (SELECT count(*) FROM pg_temp.audit_heads)").Scan(&tempRows); err != nil {
		t.Fatal(err)
	}
	if tempRows != 0 {
		t.Errorf("the audit function wrote %d rows into the caller's temporary tables", tempRows)
	}
	if _, err := worker.Exec(ctx, "SELECT count(*) FROM public.security_events"); sqlState(err) != "42501" {
		t.Errorf("the worker can read security_events after the attack (err %v): the trigger ran as the owner", err)
	}
	owner := tenantdbtest.Conn(t, db.OwnerURL)
	var rewritten, attackerRows int
	if err := owner.QueryRow(ctx, "SELECT count(*) FILTER (WHERE detail = 'rewritten'), count(*) FILTER (WHERE tenant_id = $1) FROM audit_events",
		attacker).Scan(&rewritten, &attackerRows); err != nil {
		t.Fatal(err)
	}
	if rewritten != 0 {
		t.Errorf("%d audit rows of another tenant were rewritten", rewritten)
	}
	if attackerRows != 1 {
		t.Errorf("the real chain has %d rows for the caller, want 1 (audit diverted)", attackerRows)
	}
}

// Preflight refuses a worker role that could create objects, and a SECURITY
// DEFINER function whose search_path is not pinned with pg_temp last.
func TestPreflightRefusesCreatableObjectsAndUnpinnedDefiners(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name  string
		admin func(db *tenantdbtest.Database) string // run as superuser
		owner string                                 // run as the owner
		want  string
	}{
		{name: "temp granted to PUBLIC", admin: func(db *tenantdbtest.Database) string {
			return "GRANT TEMPORARY ON DATABASE " + db.Name + " TO PUBLIC"
		}, want: "temporary objects"},
		{name: "temp granted to the worker", admin: func(db *tenantdbtest.Database) string {
			return "GRANT TEMPORARY ON DATABASE " + db.Name + " TO tenantry_worker"
		}, want: "temporary objects"},
		{name: "create on the database", admin: func(db *tenantdbtest.Database) string {
			return "GRANT CREATE ON DATABASE " + db.Name + " TO tenantry_worker"
		}, want: "schemas in the database"},
		{name: "create on public", owner: "GRANT CREATE ON SCHEMA public TO PUBLIC", want: "objects in schema public"},
		{name: "create on another schema", owner: "CREATE SCHEMA scratch; GRANT CREATE ON SCHEMA scratch TO tenantry_worker",
			want: "objects in schema scratch"},
		{name: "definer without search_path", owner: "CREATE FUNCTION public.leaky() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
			want: "leaky() does not pin"},
		{name: "definer with pg_temp first", owner: "CREATE FUNCTION public.leaky() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = pg_temp, pg_catalog, public AS 'SELECT 1'",
			want: "leaky() does not pin"},
		{name: "definer without pg_temp", owner: "ALTER FUNCTION tenantry_audit(text, text, text, text) SET search_path = pg_catalog, public",
			want: "tenantry_audit(text,text,text,text) does not pin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := tenantdbtest.NewDatabase(t)
			if tc.admin != nil {
				if _, err := tenantdbtest.Conn(t, db.AdminURL).Exec(ctx, tc.admin(db)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.owner != "" {
				if _, err := tenantdbtest.Conn(t, db.OwnerURL).Exec(ctx, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			g, err := tenantdb.Open(ctx, tenantdb.Config{URL: db.WorkerURL, MaxConns: 1})
			if err == nil {
				g.Close()
				t.Fatal("preflight accepted the database")
			}
			var pe *tenantdb.PreflightError
			if !errors.As(err, &pe) || !contains(pe.Problems, tc.want) {
				t.Fatalf("got %v, want a problem mentioning %q", err, tc.want)
			}
		})
	}
}

func TestPinnedSearchPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		config []string
		want   bool
	}{
		{nil, false},
		{[]string{"work_mem=64MB"}, false},
		{[]string{"search_path=pg_catalog, public"}, false},
		{[]string{"search_path=pg_temp, pg_catalog, public"}, false},
		{[]string{"search_path=pg_catalog, pg_temp, public"}, false},
		{[]string{"search_path=pg_catalog, public, pg_temp"}, true},
		{[]string{"search_path=pg_catalog, pg_temp"}, true},
		{[]string{"work_mem=1MB", `search_path=pg_catalog, "public", "pg_temp"`}, true},
		{[]string{"search_path=pg_catalog, public, pg_temp_3"}, false},
	}
	for _, tc := range cases {
		if got := tenantdb.PinnedSearchPath(tc.config); got != tc.want {
			t.Errorf("PinnedSearchPath(%q) = %v, want %v", tc.config, got, tc.want)
		}
	}
}

// auditAs appends an audit row for tenant the way the gateway does.
func auditAs(ctx context.Context, conn *pgx.Conn, tenant uuid.UUID) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('tenantry.tenant_id', $1, true)", tenant.String()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT tenantry_audit('document.ingested', 'doc:x', 'h', '')")
		return err
	})
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
