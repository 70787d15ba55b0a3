package chaos_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/internal/chaos/harness"
)

// TestChaosGroupedCommitKill: kill -9 the worker while the transaction that
// makes a group of small documents visible is open — every document of the
// group already marked ready inside it, its ledger update waiting on a row
// lock. No document of the group is visible, partly or whole, while the
// worker is dead; a restarted worker makes every document ready exactly
// once (every chunk once, one ingest audit row each, chains verify).
//
// How the group is caught mid-commit: a warm-up document creates the
// tenant's audit head; holding that row makes the first flip wait in its
// audit while the other documents are claimed and queue behind it (one
// write at a time per tenant). Then the queued documents' ledger rows are
// held, the audit head released: the first flip commits and the group of
// the rest runs up to its ledger update and waits there, ready rows written.
func TestChaosGroupedCommitKill(t *testing.T) {
	t.Parallel()
	const n = 10
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "chaos-group-", MaxReceive: 40})
	bin := harness.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	db := admin{env.DB.AdminURL}
	rng := rand.New(rand.NewPCG(15, 16))
	tenant := uuid.New()
	chunker, err := harness.NewChunker(512, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer chunker.Close()
	var docs []harness.Doc
	var bodies [][]byte
	for i := range n + 1 {
		body := harness.Text(rng, 3<<10)
		chs, err := chunker.Chunks(ctx, "text/plain", body)
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("small-%02d", i)
		docs = append(docs, harness.Doc{Tenant: tenant, DocumentID: id, Key: harness.Key(tenant, id, id+".txt"), Version: harness.Version(body), Chunks: len(chs)})
		bodies = append(bodies, body)
	}
	upload(t, ctx, env, docs, bodies)

	// Slots (and connections) for every document at once: the documents
	// queued behind the first flip each hold a slot while they wait, and
	// with fewer slots than documents the tenant counts as backlogged, so
	// the last ones would be held or deferred instead of claimed.
	start := workerStarter(t, ctx, env, bin, "TENANTRY_GROUP_DOCS=16", "TENANTRY_CONCURRENCY=16", "TENANTRY_DB_MAX_CONNS=24")
	ready := func(ctx context.Context) (int, error) {
		return db.count(ctx, `SELECT count(*) FROM documents WHERE status = 'ready'`)
	}
	waitingOn := func(query string) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			n, err := db.count(ctx, `SELECT count(*) FROM pg_stat_activity WHERE usename <> current_user
				AND wait_event_type = 'Lock' AND datname = current_database() AND query LIKE $1`, query)
			return n > 0, err
		}
	}
	conn, err := pgx.Connect(ctx, env.DB.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	conn2, err := pgx.Connect(ctx, env.DB.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(context.Background())

	// Warm-up: the tenant's first document creates its audit head.
	w := start()
	if err := env.Send(ctx, env.Notification("ObjectCreated:Put", docs[0].Key)); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(ctx, "the warm-up document ready", 5*time.Minute, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
		r, err := ready(ctx)
		return r == 1, err
	}); err != nil {
		t.Fatal(err)
	}
	head, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = head.Rollback(context.Background()) }()
	if _, err := head.Exec(ctx, `SELECT 1 FROM audit_heads WHERE tenant_id = $1 FOR UPDATE`, tenant); err != nil {
		t.Fatal(err)
	}
	msgs := make([]string, 0, n)
	for _, d := range docs[1:] {
		msgs = append(msgs, env.Notification("ObjectCreated:Put", d.Key))
	}
	if err := env.Send(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	// Every document claimed (its pending version taken) and the first flip
	// waiting in its audit.
	if err := harness.Eventually(ctx, "every document claimed, the first flip waiting", 5*time.Minute, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
		c, err := db.count(ctx, `SELECT count(*) FROM documents WHERE pending_version <> ''`)
		if err != nil || c != n {
			return false, err
		}
		return waitingOn("%tenantry_audit%")(ctx)
	}); err != nil {
		t.Fatal(err)
	}
	// Hold the ledger rows of the queued documents (the waiting flip holds
	// its own: skipped), then let the first flip through.
	ledger, err := conn2.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ledger.Rollback(context.Background()) }()
	var held int
	if err := ledger.QueryRow(ctx, `WITH l AS (SELECT 1 FROM jobs WHERE tenant_id = $1 AND kind = 'ingest' AND status = 'running'
		FOR UPDATE SKIP LOCKED) SELECT count(*) FROM l`, tenant).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if err := head.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(ctx, "the group's commit waiting on its ledger update", 5*time.Minute, 20*time.Millisecond,
		waitingOn("UPDATE jobs SET status = 'done'%= ANY%")); err != nil {
		t.Fatal(err)
	}
	before, err := ready(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Kill(); err != nil {
		t.Fatal(err)
	}
	// Nothing half-visible: every ready document shows all its chunks and
	// only those; the rest show none.
	bad, err := db.count(ctx, `SELECT count(*) FROM documents d WHERE
		(SELECT count(*) FROM chunks c WHERE c.tenant_id = d.tenant_id AND c.document_id = d.document_id AND c.version = d.version AND d.status = 'ready')
		<> CASE WHEN d.status = 'ready' THEN d.chunk_count ELSE 0 END`)
	if err != nil || bad != 0 {
		t.Fatalf("%d documents partly visible after the kill (%v)", bad, err)
	}
	after, err := ready(ctx)
	if err != nil || after != before || after >= n+1 {
		t.Fatalf("ready documents: %d before the kill, %d after (%v); the group must not have committed", before, after, err)
	}
	if err := ledger.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// A worker runs again: every document ends ready exactly once.
	w = start()
	defer func() { _ = w.Stop(30 * time.Second) }()
	waitErr := harness.Eventually(ctx, "every document ready", 10*time.Minute, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		c, err := db.count(ctx, `SELECT count(*) FROM documents WHERE status = 'ready' AND pending_version = ''`)
		return c == n+1, err
	})
	r, _ := requireExactlyOnce(ctx, t, db, env, docs, waitErr, 2*time.Second)
	t.Logf("grouped commit killed with %d of %d documents ready (%d ledger rows held); %d audit rows, %d tenants verified",
		before, n+1, held, r.AuditEvents, r.Tenants)
}
