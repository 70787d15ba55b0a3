package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
)

// groupDoc is one small document of a group test, opened under its own job.
type groupDoc struct {
	id     string
	scope  tenantdb.Scope
	pend   pipeline.Pending
	chunks []pipeline.Chunk
	embs   []pipeline.Embedding
}

// openGroup opens n documents of tenant, each under its own job id, with
// three chunks each.
func openGroup(t *testing.T, st *pgstore.Store, tenant uuid.UUID, ids ...string) []*groupDoc {
	t.Helper()
	var out []*groupDoc
	for _, id := range ids {
		scope := tenantdbtest.Scope(t, tenant).WithJob("job-" + id + "-" + uuid.NewString()[:8])
		d := doc(tenant, id, "")
		d.Version = "sha256:" + id
		claim, p, err := st.For(scope).Open(context.Background(), d, "k")
		if err != nil || claim != pipeline.ClaimProceed {
			t.Fatalf("open %s: %v, %v", id, claim, err)
		}
		cs, es := batch(0, 1, 2)
		out = append(out, &groupDoc{id: id, scope: scope, pend: p, chunks: cs, embs: es})
	}
	return out
}

// finishHeld finishes every document at once while the store's groups are
// held, so they all queue into one group, then releases them; it returns
// each document's outcome.
func finishHeld(t *testing.T, st *pgstore.Store, tenant uuid.UUID, docs []*groupDoc) []error {
	t.Helper()
	release := pgstore.HoldGroups(st)
	errs := make([]error, len(docs))
	var wg sync.WaitGroup
	for i, d := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.pend.Finish(context.Background(), d.chunks, d.embs, len(d.chunks), "test-words")
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for pgstore.Queued(st, tenant) < len(docs) {
		if time.Now().After(deadline) {
			release()
			t.Fatalf("only %d of %d flips queued", pgstore.Queued(st, tenant), len(docs))
		}
		time.Sleep(time.Millisecond) // polling for a condition, not a fixed wait
	}
	release()
	wg.Wait()
	return errs
}

// groupTxs reads how many transactions made ids ready (distinct xmin of
// their document rows) and each document's ingest audit rows' job ids.
func groupTxs(t *testing.T, db pgstore.Gateway, scope tenantdb.Scope, ids []string) (txs int, jobs map[string][]string) {
	t.Helper()
	jobs = map[string][]string{}
	err := db.WithTenant(context.Background(), scope, func(ctx context.Context, tx tenantdb.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(DISTINCT xmin::text) FROM documents WHERE document_id = ANY($1) AND status = 'ready'`,
			ids).Scan(&txs); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT detail::jsonb->>'document_id', job_id FROM audit_events WHERE action = 'document.ingested'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, job string
			if err := rows.Scan(&id, &job); err != nil {
				return err
			}
			jobs[id] = append(jobs[id], job)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return txs, jobs
}

func groupedStore(t *testing.T) (*pgstore.Store, pgstore.Gateway) {
	t.Helper()
	db := tenantdbtest.NewDatabase(t).Open(t)
	return pgstore.New(db, nil).Group(pgstore.GroupConfig{MaxDocs: 16}), db
}

// TestGroupedFlipsShareOneTransaction: small documents of one tenant ready
// together are made visible by one transaction, each with its own audit
// row under its own job (not the group's first job).
func TestGroupedFlipsShareOneTransaction(t *testing.T) {
	t.Parallel()
	st, db := groupedStore(t)
	tenant := uuid.New()
	ids := []string{"g1", "g2", "g3", "g4", "g5"}
	docs := openGroup(t, st, tenant, ids...)
	for i, err := range finishHeld(t, st, tenant, docs) {
		if err != nil {
			t.Fatalf("%s: %v", ids[i], err)
		}
	}
	txs, jobs := groupTxs(t, db, docs[0].scope, ids)
	if txs != 1 {
		t.Errorf("%d transactions made the group ready, want 1", txs)
	}
	for _, d := range docs {
		if got := readState(t, db, d.scope, d.id); got.visible != 3 || got.stored != 3 || got.audits != 1 || got.pendV != "" {
			t.Errorf("%s: %+v, want 3 visible chunks and one audit row", d.id, got)
		}
		if j := jobs[d.id]; len(j) != 1 || j[0] != d.scope.JobID() {
			t.Errorf("%s audited under jobs %v, want [%s]", d.id, j, d.scope.JobID())
		}
	}
}

// TestGroupedFlipKeepsEachDocumentAtomic: one poisoned document in a group
// (a chunk the database refuses) fails alone with its own error; the others
// land, and it leaves nothing visible and no audit row.
func TestGroupedFlipKeepsEachDocumentAtomic(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		poison func(d *groupDoc)
	}{
		{"text with a NUL byte", func(d *groupDoc) { d.chunks[1].Text = "bad\x00text" }},
		{"vector of the wrong dimension", func(d *groupDoc) { d.embs[2].Vector = d.embs[2].Vector[:3] }},
		{"two chunks with one ordinal", func(d *groupDoc) { d.chunks[1].Ordinal = 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, db := groupedStore(t)
			tenant := uuid.New()
			ids := []string{"a", "b", "poison", "c"}
			docs := openGroup(t, st, tenant, ids...)
			tc.poison(docs[2])
			errs := finishHeld(t, st, tenant, docs)
			for i, d := range docs {
				got := readState(t, db, d.scope, d.id)
				if d.id == "poison" {
					if errs[i] == nil {
						t.Fatal("the poisoned document flipped")
					}
					if got.visible != 0 || got.audits != 0 || got.status == "ready" {
						t.Errorf("poisoned document is partly visible: %+v", got)
					}
					continue
				}
				if errs[i] != nil {
					t.Errorf("%s failed with the poisoned one: %v", d.id, errs[i])
				}
				if got.visible != 3 || got.audits != 1 || got.status != "ready" {
					t.Errorf("%s: %+v, want 3 visible chunks and one audit row", d.id, got)
				}
			}
		})
	}
}

// TestGroupedFlipOfDuplicateDeliveries: two deliveries of the same
// document in one group (the second took the pending version over) make it
// ready once, with one audit row; the first delivery learns it lost its
// claim (or that the bytes are already done), never a double write.
func TestGroupedFlipOfDuplicateDeliveries(t *testing.T) {
	t.Parallel()
	st, db := groupedStore(t)
	tenant := uuid.New()
	docs := openGroup(t, st, tenant, "dup", "other")
	again := openGroup(t, st, tenant, "dup") // the second delivery takes over
	all := []*groupDoc{docs[0], docs[1], again[0]}
	errs := finishHeld(t, st, tenant, all)
	if errs[1] != nil || errs[2] != nil {
		t.Fatalf("the other document or the holder of the claim failed: %v, %v", errs[1], errs[2])
	}
	if errs[0] != nil && !errors.Is(errs[0], pgstore.ErrClaimLost) {
		t.Fatalf("the superseded delivery: %v, want nil or ErrClaimLost", errs[0])
	}
	for _, id := range []string{"dup", "other"} {
		if got := readState(t, db, docs[0].scope, id); got.visible != 3 || got.stored != 3 || got.audits != 1 {
			t.Errorf("%s: %+v, want 3 chunks once and one audit row", id, got)
		}
	}
}

// TestGroupedFlipRespectsNewerEventsAndDeletes: in a group, a document a
// newer event superseded changes nothing and one deleted meanwhile fails
// alone; the rest of the group lands.
func TestGroupedFlipRespectsNewerEventsAndDeletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, db := groupedStore(t)
	tenant := uuid.New()
	docs := openGroup(t, st, tenant, "kept", "gone")
	del := doc(tenant, "gone", "")
	if err := st.For(tenantdbtest.Scope(t, tenant).WithJob("delete-1")).Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	errs := finishHeld(t, st, tenant, docs)
	if errs[0] != nil {
		t.Fatalf("kept: %v", errs[0])
	}
	if errs[1] == nil {
		t.Fatal("a document deleted while it was processed flipped")
	}
	if got := readState(t, db, docs[0].scope, "gone"); got.stored != 0 || got.visible != 0 {
		t.Errorf("the deleted document came back: %+v", got)
	}
	if got := readState(t, db, docs[0].scope, "kept"); got.visible != 3 {
		t.Errorf("kept: %+v", got)
	}
}

// TestGroupedFlipIsPerTenant: flips of two tenants never share a
// transaction (each group runs under one tenant's scope).
func TestGroupedFlipIsPerTenant(t *testing.T) {
	t.Parallel()
	st, db := groupedStore(t)
	a, b := uuid.New(), uuid.New()
	da := openGroup(t, st, a, "x1", "x2")
	db2 := openGroup(t, st, b, "y1", "y2")
	release := pgstore.HoldGroups(st)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, d := range append(da, db2...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.pend.Finish(context.Background(), d.chunks, d.embs, 3, "test-words")
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for pgstore.Queued(st, a) < 2 || pgstore.Queued(st, b) < 2 {
		if time.Now().After(deadline) {
			release()
			t.Fatal("flips did not queue")
		}
		time.Sleep(time.Millisecond)
	}
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		scope tenantdb.Scope
		ids   []string
	}{{da[0].scope, []string{"x1", "x2"}}, {db2[0].scope, []string{"y1", "y2"}}} {
		txs, jobs := groupTxs(t, db, tc.scope, append(tc.ids, "x1", "x2", "y1", "y2"))
		if txs != 1 || len(jobs) != 2 {
			t.Errorf("tenant sees %d transactions and audit rows of %d documents, want 1 and 2 (its own): %v", txs, len(jobs), jobs)
		}
	}
}
