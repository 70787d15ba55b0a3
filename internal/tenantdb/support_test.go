package tenantdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// seedTenant writes one document with two chunks for tenant, as the owner
// inside the tenant's scope (RLS still applies).
func seedTenant(ctx context.Context, t testing.TB, db *tenantdbtest.Database, tenant uuid.UUID, doc string) {
	t.Helper()
	owner := tenantdbtest.Conn(t, db.OwnerURL)
	err := pgx.BeginFunc(ctx, owner, func(tx pgx.Tx) error {
		stmts := []string{
			`SELECT set_config('tenantry.tenant_id', $1, true)`,
			`INSERT INTO tenants (tenant_id) VALUES ($1::uuid)`,
			`INSERT INTO documents (tenant_id, document_id, source_uri, version, status, chunk_count)
				VALUES ($1::uuid, $2, 's3://b/' || $1 || '/' || $2 || '/f.txt', 'sha256:aa', 'ready', 2)`,
			`INSERT INTO chunks (tenant_id, document_id, version, ordinal, text, token_count, char_start, char_end, embedding, model, content_hash)
				SELECT $1::uuid, $2, 'sha256:aa', o, 'secret text ' || o, 3, 0, 5, array_fill(0.1::real, ARRAY[1024])::vector, 'm', 'h'
				FROM generate_series(0, 1) o`,
		}
		for i, s := range stmts {
			args := []any{tenant.String(), doc}
			if i < 2 {
				args = args[:1]
			}
			if _, err := tx.Exec(ctx, s, args...); err != nil {
				return fmt.Errorf("%s: %w", s[:30], err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func chainOf(ctx context.Context, t *testing.T, db *tenantdbtest.Database, tenant uuid.UUID) []audit.Event {
	t.Helper()
	r, err := tenantdb.OpenAuditReader(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []audit.Event
	if err := r.ScanAudit(ctx, tenant, func(e audit.Event) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	reps, err := audit.VerifyAll(ctx, r, []uuid.UUID{tenant})
	if err != nil || audit.Broken(reps) {
		t.Fatalf("chain of %s: %+v %v", tenant, reps, err)
	}
	return out
}

func securityEvents(ctx context.Context, t *testing.T, db *tenantdbtest.Database, reason string) int {
	t.Helper()
	var n int
	if err := tenantdbtest.Conn(t, db.OwnerURL).QueryRow(ctx,
		"SELECT count(*) FROM security_events WHERE source = 'support' AND reason = $1", reason).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func supportSetup(ctx context.Context, t *testing.T) (*tenantdbtest.Database, *tenantdb.SupportAdmin, *tenantdb.SupportReader) {
	t.Helper()
	db := tenantdbtest.NewDatabase(t)
	admin, err := tenantdb.OpenSupportAdmin(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	reader, err := tenantdb.OpenSupportReader(ctx, db.SupportURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reader.Close)
	return db, admin, reader
}

// A granted read returns the tenant's rows and appends support.read (who,
// why, what) to that tenant's chain, which still verifies.
func TestSupportReadIsAuditedInTheTenantChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, admin, reader := supportSetup(ctx, t)
	tenant, other := uuid.New(), uuid.New()
	seedTenant(ctx, t, db, tenant, "doc-1")
	seedTenant(ctx, t, db, other, "doc-other")
	g, err := admin.Grant(ctx, tenant, "alice", "ticket 4711", time.Hour, "lead")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := reader.Read(ctx, tenantdb.SupportRequest{Tenant: tenant, Grant: g.ID, Operator: "alice", What: "documents"})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || !strings.Contains(string(docs[0]), `"doc-1"`) {
		t.Fatalf("documents %s", docs)
	}
	chunks, err := reader.Read(ctx, tenantdb.SupportRequest{Tenant: tenant, Grant: g.ID, Operator: "alice", What: "chunks", Document: "doc-1"})
	if err != nil || len(chunks) != 2 {
		t.Fatalf("chunks %d, %v", len(chunks), err)
	}
	// The grant covers its tenant only: another tenant's document id under
	// this tenant's grant finds nothing.
	none, err := reader.Read(ctx, tenantdb.SupportRequest{Tenant: tenant, Grant: g.ID, Operator: "alice", What: "chunks", Document: "doc-other"})
	if err != nil || len(none) != 0 {
		t.Fatalf("read another tenant's chunks: %d rows, %v", len(none), err)
	}
	ev := chainOf(ctx, t, db, tenant)
	var actions []string
	for _, e := range ev {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); got != "support.granted,support.read,support.read,support.read" {
		t.Fatalf("chain actions %s", got)
	}
	var d struct{ Operator, Reason, Read, Grant string }
	if err := json.Unmarshal([]byte(ev[1].Detail), &d); err != nil {
		t.Fatal(err)
	}
	if d.Operator != "alice" || d.Reason != "ticket 4711" || d.Read != "documents" || d.Grant != g.ID.String() ||
		ev[1].Actor != "support:alice" || ev[0].Actor != "operator:lead" || ev[2].Resource != "doc:doc-1" {
		t.Fatalf("support.read event %+v / %+v", ev[1], d)
	}
	if n := len(chainOf(ctx, t, db, other)); n != 0 {
		t.Fatalf("the other tenant's chain got %d events", n)
	}
	list, err := admin.List(ctx, tenant)
	if err != nil || len(list) != 1 || list[0].ID != g.ID || !list[0].Active(time.Now()) {
		t.Fatalf("list %+v %v", list, err)
	}
}

// Every refusal: nothing read, nothing appended to the chain, a security event.
func TestSupportReadRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, admin, reader := supportSetup(ctx, t)
	tenant, other := uuid.New(), uuid.New()
	seedTenant(ctx, t, db, tenant, "doc-1")
	seedTenant(ctx, t, db, other, "doc-2")
	grant := func(tn uuid.UUID) uuid.UUID {
		g, err := admin.Grant(ctx, tn, "bob", "ticket", time.Hour, "lead")
		if err != nil {
			t.Fatal(err)
		}
		return g.ID
	}
	superuser := tenantdbtest.Conn(t, db.AdminURL)
	for _, tc := range []struct {
		name   string
		req    func() tenantdb.SupportRequest
		reason string
	}{
		{"no grant", func() tenantdb.SupportRequest {
			return tenantdb.SupportRequest{Tenant: tenant, Grant: uuid.New(), Operator: "bob", What: "documents"}
		}, tenantdb.ReasonSupportNoGrant},
		{"another tenant's grant", func() tenantdb.SupportRequest {
			return tenantdb.SupportRequest{Tenant: tenant, Grant: grant(other), Operator: "bob", What: "documents"}
		}, tenantdb.ReasonSupportWrongTenant},
		{"another operator", func() tenantdb.SupportRequest {
			return tenantdb.SupportRequest{Tenant: tenant, Grant: grant(tenant), Operator: "mallory", What: "documents"}
		}, tenantdb.ReasonSupportWrongOperator},
		{"expired", func() tenantdb.SupportRequest {
			id := grant(tenant)
			if _, err := superuser.Exec(ctx, `UPDATE support_grants SET created_at = now() - interval '2 hours',
				expires_at = now() - interval '1 second' WHERE grant_id = $1`, id); err != nil {
				t.Fatal(err)
			}
			return tenantdb.SupportRequest{Tenant: tenant, Grant: id, Operator: "bob", What: "documents"}
		}, tenantdb.ReasonSupportExpired},
		{"revoked", func() tenantdb.SupportRequest {
			id := grant(tenant)
			if ok, err := admin.Revoke(ctx, tenant, id, "lead"); !ok || err != nil {
				t.Fatalf("revoke %v %v", ok, err)
			}
			return tenantdb.SupportRequest{Tenant: tenant, Grant: id, Operator: "bob", What: "documents"}
		}, tenantdb.ReasonSupportRevoked},
		{"unknown kind of read", func() tenantdb.SupportRequest {
			return tenantdb.SupportRequest{Tenant: tenant, Grant: grant(tenant), Operator: "bob", What: "audit_events"}
		}, tenantdb.ReasonSupportBadRequest},
		{"chunks without a document", func() tenantdb.SupportRequest {
			return tenantdb.SupportRequest{Tenant: tenant, Grant: grant(tenant), Operator: "bob", What: "chunks"}
		}, tenantdb.ReasonSupportBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req()
			before := securityEvents(ctx, t, db, tc.reason)
			reads := countAction(chainOf(ctx, t, db, tenant), "support.read")
			rows, err := reader.Read(ctx, req)
			var re *tenantdb.SupportRefusedError
			if !errors.As(err, &re) || re.Reason != tc.reason || !errors.Is(err, tenantdb.ErrSupportRefused) || rows != nil {
				t.Fatalf("got %d rows, %v; want refusal %s", len(rows), err, tc.reason)
			}
			if after := securityEvents(ctx, t, db, tc.reason); after != before+1 {
				t.Errorf("security events %s: %d -> %d, want one more", tc.reason, before, after)
			}
			if n := countAction(chainOf(ctx, t, db, tenant), "support.read"); n != reads {
				t.Errorf("a refused read was audited as a read (%d -> %d)", reads, n)
			}
		})
	}
	// A snapshot older than the revoke: a REPEATABLE READ transaction opened
	// while the grant was active, used after the revoke committed, reads
	// nothing. Two locks refuse it, each alone enough: the function's FOR
	// SHARE on the grant's current row, and the audit head's FOR UPDATE (the
	// revoke appended to the same chain).
	stale := grant(tenant)
	support := tenantdbtest.Conn(t, db.SupportURL)
	tx, err := support.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := tx.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil { // takes the snapshot
		t.Fatal(err)
	}
	if ok, err := admin.Revoke(ctx, tenant, stale, "lead"); !ok || err != nil {
		t.Fatalf("revoke %v %v", ok, err)
	}
	var raw string
	err = tx.QueryRow(ctx, "SELECT public.tenantry_support_read($1, $2, 'bob', 'chunks', 'doc-1')::text", tenant, stale).Scan(&raw)
	_ = tx.Rollback(ctx)
	if err == nil && !strings.Contains(raw, `"ok": false`) {
		t.Fatalf("a snapshot from before the revoke still read: %.80s", raw)
	}
	if err != nil && tenantdb.SQLState(err) != "40001" {
		t.Fatalf("stale snapshot: %v, want a refusal or a serialization failure", err)
	}

	// Revoking twice is a no-op; revoking through the wrong tenant finds nothing.
	id := grant(tenant)
	if ok, err := admin.Revoke(ctx, other, id, "lead"); ok || err != nil {
		t.Fatalf("revoked through another tenant: %v %v", ok, err)
	}
	if _, err := admin.Grant(ctx, tenant, "bob", "x", 8*24*time.Hour, "lead"); err == nil {
		t.Fatal("a grant longer than 7 days was accepted")
	}
	if _, err := admin.Grant(ctx, tenant, "bob; drop", "x", time.Hour, "lead"); err == nil {
		t.Fatal("an operator name outside the allowed alphabet was accepted")
	}
}

func countAction(ev []audit.Event, action string) int {
	n := 0
	for _, e := range ev {
		if e.Action == action {
			n++
		}
	}
	return n
}

// The support role, attacked from its own connection: it reaches no table,
// no sequence and no function but the read function; it cannot grant
// itself; it creates nothing; and even with TEMP granted back, a temporary
// support_grants table holding a forged grant does not fool the definer.
func TestSupportRoleReachesNoTableDirectly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _, _ := supportSetup(ctx, t)
	tenant := uuid.New()
	seedTenant(ctx, t, db, tenant, "doc-1")
	owner := tenantdbtest.Conn(t, db.OwnerURL)
	tables, err := owner.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(tables, pgx.RowTo[string])
	if err != nil || len(names) < 8 {
		t.Fatalf("tables %v %v", names, err)
	}
	// Views cannot be truncated by anyone (42809): only SELECT and DELETE apply.
	views := map[string]bool{}
	vs, err := owner.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')`)
	if err != nil {
		t.Fatal(err)
	}
	vnames, err := pgx.CollectRows(vs, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vnames {
		views[v] = true
	}
	support := tenantdbtest.Conn(t, db.SupportURL)
	// The session tenant set by the attacker changes nothing.
	if _, err := support.Exec(ctx, "SELECT set_config('tenantry.tenant_id', $1, false)", tenant.String()); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		for _, stmt := range []string{
			"SELECT * FROM public." + name + " LIMIT 1",
			"DELETE FROM public." + name,
			"TRUNCATE public." + name,
		} {
			if views[name] && strings.HasPrefix(stmt, "TRUNCATE") {
				continue
			}
			if _, err := support.Exec(ctx, stmt); tenantdb.SQLState(err) != "42501" {
				t.Errorf("support role: %q: %v (want 42501)", stmt, err)
			}
		}
	}
	for _, stmt := range []string{
		"INSERT INTO public.support_grants (grant_id, tenant_id, operator, reason, granted_by, expires_at) VALUES (gen_random_uuid(), '" + tenant.String() + "', 'eve', 'x', 'eve', now() + interval '1 hour')",
		"SELECT public.tenantry_support_grant('eve', 'self-service', interval '1 hour')",
		"SELECT public.tenantry_support_revoke(gen_random_uuid())",
		"SELECT public.tenantry_audit('support.read', 'x', '', '')",
		"SELECT public.tenantry_current_tenant()",
		"SELECT nextval('public.security_events_id_seq')",
		"CREATE TEMP TABLE probe (x int)",
		"CREATE FUNCTION pg_temp.probe() RETURNS int LANGUAGE sql AS 'SELECT 1'",
		"CREATE TABLE public.probe (x int)",
		"CREATE SCHEMA probe",
	} {
		if _, err := support.Exec(ctx, stmt); tenantdb.SQLState(err) != "42501" {
			t.Errorf("support role: %q: %v (want 42501)", stmt, err)
		}
	}

	// Nor can the worker role use the support door.
	worker := tenantdbtest.Conn(t, db.WorkerURL)
	if _, err := worker.Exec(ctx, "SELECT public.tenantry_support_read($1, gen_random_uuid(), 'w', 'documents', '')", tenant); tenantdb.SQLState(err) != "42501" {
		t.Errorf("worker role called the support read: %v", err)
	}

	// An operator grants TEMP back (preflight now refuses the role): the
	// attacker shadows support_grants and the audit function in pg_temp.
	superuser := tenantdbtest.Conn(t, db.AdminURL)
	if _, err := superuser.Exec(ctx, fmt.Sprintf("GRANT TEMPORARY ON DATABASE %s TO tenantry_support", db.Name)); err != nil {
		t.Fatal(err)
	}
	if _, err := tenantdb.OpenSupportReader(ctx, db.SupportURL); !errors.Is(err, tenantdb.ErrUnsafeRole) ||
		!strings.Contains(err.Error(), "temporary") {
		t.Fatalf("support preflight with TEMP: %v", err)
	}
	support = tenantdbtest.Conn(t, db.SupportURL)
	forged := uuid.New()
	for _, s := range []string{
		`CREATE TEMP TABLE support_grants (grant_id uuid, tenant_id uuid, operator text, reason text, granted_by text,
			created_at timestamptz, expires_at timestamptz, revoked_at timestamptz)`,
		fmt.Sprintf(`INSERT INTO pg_temp.support_grants VALUES ('%s', '%s', 'eve', 'forged', 'eve', now(), now() + interval '1 hour', NULL)`, forged, tenant),
		`CREATE FUNCTION pg_temp.tenantry_audit(text, text, text, text) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint'`,
		`GRANT ALL ON pg_temp.support_grants TO PUBLIC`,
	} {
		if _, err := support.Exec(ctx, s); err != nil {
			t.Fatalf("attack setup %q: %v", s[:30], err)
		}
	}
	var raw string
	if err := support.QueryRow(ctx, "SELECT public.tenantry_support_read($1, $2, 'eve', 'chunks', 'doc-1')::text", tenant, forged).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(raw, tenantdb.ReasonSupportNoGrant) || strings.Contains(raw, "secret text") {
		t.Fatalf("forged grant in pg_temp was honoured: %s", raw)
	}

	// (While the attacker's temporary table, granted to PUBLIC, exists, the
	// support preflight reports it too.)
	if _, err := tenantdb.OpenSupportReader(ctx, db.SupportURL); err == nil || !strings.Contains(err.Error(), ".support_grants directly") {
		t.Fatalf("support preflight with a PUBLIC temporary table: %v", err)
	}
	if _, err := support.Exec(ctx, "DROP TABLE pg_temp.support_grants"); err != nil {
		t.Fatal(err)
	}

	// Attacker's side of preflight: a table privilege granted to the role
	// by mistake is reported.
	if _, err := superuser.Exec(ctx, "REVOKE TEMPORARY ON DATABASE "+db.Name+" FROM tenantry_support"); err != nil {
		t.Fatal(err)
	}
	if _, err := superuser.Exec(ctx, "GRANT SELECT ON public.chunks TO tenantry_support"); err != nil {
		t.Fatal(err)
	}
	if _, err := tenantdb.OpenSupportReader(ctx, db.SupportURL); !errors.Is(err, tenantdb.ErrUnsafeRole) ||
		!strings.Contains(err.Error(), "public.chunks") {
		t.Fatalf("support preflight with SELECT on chunks: %v", err)
	}
	// And a SECURITY DEFINER function added without a pinned search_path
	// is reported by the support preflight as by the worker's.
	if _, err := superuser.Exec(ctx, "REVOKE SELECT ON public.chunks FROM tenantry_support"); err != nil {
		t.Fatal(err)
	}
	if _, err := tenantdb.OpenSupportReader(ctx, db.SupportURL); err != nil {
		t.Fatalf("support preflight after the fix: %v", err)
	}
	if _, err := owner.Exec(ctx, "CREATE FUNCTION public.unpinned() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'"); err != nil {
		t.Fatal(err)
	}
	if _, err := tenantdb.OpenSupportReader(ctx, db.SupportURL); !errors.Is(err, tenantdb.ErrUnsafeRole) ||
		!strings.Contains(err.Error(), "unpinned()") {
		t.Fatalf("support preflight with an unpinned definer: %v", err)
	}
}

// BenchmarkSupportRead measures the audited support door against the
// worker's own scoped read of the same 100 documents' metadata: "scoped" is
// WithTenant plus one SELECT, "support" is tenantry_support_read (grant
// check, the same rows as JSON, a support.read audit row appended in the
// same transaction). Report the ratio support/scoped.
func BenchmarkSupportRead(b *testing.B) {
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(b)
	tenant := uuid.New()
	gw := db.Open(b)
	err := gw.WithTenant(ctx, tenantdbtest.Scope(b, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO tenants (tenant_id) VALUES ($1)", tenant); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO documents (tenant_id, document_id, source_uri, version, status)
			SELECT $1, 'doc-' || g, 's3://b/k' || g, 'sha256:aa', 'ready' FROM generate_series(1, 100) g`, tenant)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	admin, err := tenantdb.OpenSupportAdmin(ctx, db.OwnerURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(admin.Close)
	g, err := admin.Grant(ctx, tenant, "bench", "benchmark", time.Hour, "bench")
	if err != nil {
		b.Fatal(err)
	}
	reader, err := tenantdb.OpenSupportReader(ctx, db.SupportURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(reader.Close)
	scope := tenantdbtest.Scope(b, tenant)
	b.Run("scoped", func(b *testing.B) {
		for b.Loop() {
			var n int
			err := gw.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
				var raw []byte
				return tx.QueryRow(ctx, `SELECT coalesce(jsonb_agg(jsonb_build_object('document_id', document_id, 'version', version,
					'status', status, 'size_bytes', size_bytes, 'filename', filename, 'attributes', attributes) ORDER BY document_id), '[]'),
					count(*) FROM documents`).Scan(&raw, &n)
			})
			if err != nil || n != 100 {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("scoped+audit", func(b *testing.B) {
		for b.Loop() {
			err := gw.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
				var raw []byte
				var n int
				if err := tx.QueryRow(ctx, `SELECT coalesce(jsonb_agg(jsonb_build_object('document_id', document_id, 'version', version,
					'status', status, 'size_bytes', size_bytes, 'filename', filename, 'attributes', attributes) ORDER BY document_id), '[]'),
					count(*) FROM documents`).Scan(&raw, &n); err != nil {
					return err
				}
				_, err := tx.Audit(ctx, "document.read", "bench", "", "{}")
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("support", func(b *testing.B) {
		for b.Loop() {
			rows, err := reader.Read(ctx, tenantdb.SupportRequest{Tenant: tenant, Grant: g.ID, Operator: "bench", What: "documents"})
			if err != nil || len(rows) != 100 {
				b.Fatal(len(rows), err)
			}
		}
	})
}
