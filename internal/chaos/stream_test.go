package chaos_test

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/internal/chaos/harness"
)

// TestChaosStreamingKill: kill -9 the worker in the middle of a large
// document it is streaming into a pending version, and again while its flip
// transaction is open. While the worker is dead nothing of the pending
// version is visible (the document is not ready, or still shows its old
// version); the restarted worker resumes, and in the end the document is
// ready exactly once — every chunk once, one ingest audit row, chains that
// verify. TENANTRY_CHAOS=long (make chaos) uses a 30 MiB document, the
// normal test run a 512 KiB one.
func TestChaosStreamingKill(t *testing.T) {
	t.Parallel()
	size := 512 << 10
	if os.Getenv("TENANTRY_CHAOS") == "long" {
		size = 30 << 20
	}
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "chaos-stream-", MaxReceive: 40})
	bin := harness.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	db := admin{env.DB.AdminURL}
	rng := rand.New(rand.NewPCG(15, 15))
	tenant := uuid.New()
	chunker, err := harness.NewChunker(512, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer chunker.Close()
	body := harness.Text(rng, size)
	chs, err := chunker.Chunks(ctx, "text/plain", body)
	if err != nil {
		t.Fatal(err)
	}
	doc := harness.Doc{Tenant: tenant, DocumentID: "big", Key: harness.Key(tenant, "big", "big.txt"), Version: harness.Version(body), Chunks: len(chs)}
	upload(t, ctx, env, []harness.Doc{doc}, [][]byte{body})

	// One batch of the document at a time: the restarted worker's resumed
	// batches then leave a window wide enough to take the row lock before
	// its flip (with four at once an idle machine could store the rest and
	// flip between two polls, and the test waited out its deadline).
	start := workerStarter(t, ctx, env, bin, "TENANTRY_EMBED_BATCH=16", "TENANTRY_DOCUMENT_PARALLEL=1")
	// pending counts the chunks of the document's pending version.
	pending := func(ctx context.Context) (int, error) {
		return db.count(ctx, `SELECT count(*) FROM chunks c JOIN documents d USING (tenant_id, document_id)
			WHERE d.pending_version <> '' AND c.version = d.pending_version`)
	}
	// visible counts the chunks search could return (the join retrieval uses).
	visible := func(ctx context.Context) (int, error) {
		return db.count(ctx, `SELECT count(*) FROM chunks c JOIN documents d
			ON d.tenant_id = c.tenant_id AND d.document_id = c.document_id AND d.version = c.version WHERE d.status = 'ready'`)
	}
	requireInvisible := func(when string) {
		t.Helper()
		if n, err := visible(ctx); err != nil || n != 0 {
			t.Fatalf("%s: %d chunks visible (%v), want none of a partial version", when, n, err)
		}
	}

	// 1. Kill in the middle of the stream.
	w := start()
	if err := env.Send(ctx, env.Notification("ObjectCreated:Put", doc.Key)); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(ctx, "a part of the pending version stored", 10*time.Minute, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
		n, err := pending(ctx)
		return n > 0 && n < doc.Chunks/2, err
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.Kill(); err != nil {
		t.Fatal(err)
	}
	requireInvisible("killed mid-stream")
	midway, _ := pending(ctx)

	// 2. Kill during the flip: once the restarted worker resumed the
	// pending version, hold the document row FOR NO KEY UPDATE (as the
	// superuser): its batches (FOR KEY SHARE) go on, its flip (FOR UPDATE)
	// waits with the transaction open; kill the worker while it waits.
	var lock pgx.Tx
	conn, err := pgx.Connect(ctx, env.DB.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	w = start()
	if err := harness.Eventually(ctx, "the pending version resumed", 20*time.Minute, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
		n, err := pending(ctx)
		if err != nil || n <= midway {
			return false, err
		}
		lock, err = conn.Begin(ctx)
		if err != nil {
			return false, err
		}
		_, err = lock.Exec(ctx, `SELECT 1 FROM documents WHERE document_id = $1 FOR NO KEY UPDATE`, doc.DocumentID)
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(ctx, "the worker's flip waiting on the row", 20*time.Minute, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
		var q string
		err := db.do(ctx, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT coalesce(string_agg(left(query, 100), ' | '), '') FROM pg_stat_activity
				WHERE usename <> current_user AND wait_event_type = 'Lock' AND datname = current_database()
				AND query LIKE '%FROM documents WHERE document_id = $1 FOR UPDATE%'`).Scan(&q)
		})
		if q != "" {
			t.Logf("waiting on the row: %s", q)
		}
		return q != "", err
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.Kill(); err != nil {
		t.Fatal(err)
	}
	if n, err := pending(ctx); err != nil || n != doc.Chunks {
		var q string
		_ = db.do(ctx, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT string_agg(wait_event || ': ' || left(query, 120), ' | ') FROM pg_stat_activity
				WHERE usename <> current_user AND datname = current_database()`).Scan(&q)
		})
		t.Fatalf("killed in the flip with %d of %d chunks stored (%v); waiting: %s", n, doc.Chunks, err, q)
	}
	_ = lock.Rollback(ctx)
	requireInvisible("killed during the flip")

	// 3. A worker runs again: the document must end ready exactly once.
	w = start()
	defer func() { _ = w.Stop(30 * time.Second) }()
	waitErr := harness.Eventually(ctx, "the document ready", 20*time.Minute, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		n, err := db.count(ctx, `SELECT count(*) FROM documents WHERE status = 'ready' AND pending_version = ''`)
		return n == 1, err
	})
	r, _ := requireExactlyOnce(ctx, t, db, env, []harness.Doc{doc}, waitErr, 2*time.Second)
	left, err := db.count(ctx, `SELECT count(*) FROM chunks WHERE version <> $1`, doc.Version)
	if err != nil || left != 0 {
		t.Fatalf("%d chunks of another version left (%v)", left, err)
	}
	t.Logf("streaming kills: %d chunks, killed once with %d stored and once in the flip; %d audit rows, %d tenants verified",
		doc.Chunks, midway, r.AuditEvents, r.Tenants)
}
