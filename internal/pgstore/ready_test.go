package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
)

// statusHook is a ReadyHook that reads its document's status in the
// transaction it runs in (ready there means: after the flip, before the
// commit), reports ok and fails with err.
func statusHook(id string, ok bool, err error, seen *string) *pgstore.ReadyHook {
	return &pgstore.ReadyHook{Run: func(ctx context.Context, tx tenantdb.Tx) (bool, error) {
		if e := tx.QueryRow(ctx, `SELECT status FROM documents WHERE document_id = $1`, id).Scan(seen); e != nil {
			return false, e
		}
		return ok, err
	}}
}

// TestReadyHookRunsInTheFlip: a document's ReadyHook runs in the
// transaction that makes it ready — written alone (Finish, Commit) or in a
// group — after its flip; Applied is true only once that transaction
// committed with the hook's work done. A hook that fails fails the flip
// (nothing becomes visible); a document a newer event superseded runs no
// hook.
func TestReadyHookRunsInTheFlip(t *testing.T) {
	t.Parallel()
	errHook := errors.New("hook failed")
	for _, tc := range []struct {
		name    string
		grouped bool
		commit  bool // Commit instead of Open and Finish
		ok      bool
		err     error
		stale   bool // a newer event is applied before the flip
		applied bool
		ready   bool
	}{
		{name: "alone", ok: true, applied: true, ready: true},
		{name: "grouped", grouped: true, ok: true, applied: true, ready: true},
		{name: "commit", commit: true, ok: true, applied: true, ready: true},
		{name: "hook did not apply", ok: false, applied: false, ready: true},
		{name: "hook fails alone", ok: true, err: errHook, applied: false, ready: false},
		{name: "hook fails grouped", grouped: true, ok: true, err: errHook, applied: false, ready: false},
		{name: "superseded: no hook", ok: true, stale: true, applied: false, ready: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, db := groupedStore(t)
			if !tc.grouped {
				st = st.Group(pgstore.GroupConfig{})
			}
			tenant := uuid.New()
			scope := tenantdbtest.Scope(t, tenant).WithJob("job-1")
			var seen string
			hook := statusHook("d", tc.ok, tc.err, &seen)
			d := doc(tenant, "d", "0A")
			d.Version = "sha256:d"
			cs, es := batch(0, 1, 2)
			var err error
			switch {
			case tc.grouped:
				// With another document of the tenant, in one group.
				_, p, oerr := st.For(scope).OnReady(hook).Open(ctx, d, "k")
				if oerr != nil {
					t.Fatal(oerr)
				}
				other := openGroup(t, st, tenant, "e")[0]
				errs := finishHeld(t, st, tenant, []*groupDoc{{id: "d", scope: scope, pend: p, chunks: cs, embs: es}, other})
				if errs[1] != nil {
					t.Fatalf("the other document: %v", errs[1])
				}
				if txs, _ := groupTxs(t, db, scope, []string{"d", "e"}); tc.ready && txs != 1 {
					t.Errorf("%d transactions made the group ready, want 1", txs)
				}
				err = errs[0]
			case tc.commit:
				if _, err := st.For(scope).Claim(ctx, d); err != nil {
					t.Fatal(err)
				}
				err = st.For(scope).OnReady(hook).Commit(ctx, d, cs, es)
			default:
				_, p, oerr := st.For(scope).OnReady(hook).Open(ctx, d, "k")
				if oerr != nil {
					t.Fatal(oerr)
				}
				if tc.stale {
					newer := doc(tenant, "d", "0B")
					newer.Version = "sha256:newer"
					if _, err := st.For(tenantdbtest.Scope(t, tenant).WithJob("job-2")).Claim(ctx, newer); err != nil {
						t.Fatal(err)
					}
					if err := st.For(tenantdbtest.Scope(t, tenant).WithJob("job-2")).Commit(ctx, newer, cs, es); err != nil {
						t.Fatal(err)
					}
				}
				err = p.Finish(ctx, cs, es, len(cs), "test-words")
			}
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("flip: %v, want %v", err, tc.err)
			}
			if hook.Applied() != tc.applied {
				t.Errorf("Applied = %v, want %v", hook.Applied(), tc.applied)
			}
			if !tc.stale && seen != "ready" {
				t.Errorf("the hook saw status %q: not after the flip in its transaction", seen)
			}
			if tc.stale && seen != "" {
				t.Errorf("a superseded document ran its hook")
			}
			if got := readState(t, db, scope, "d"); (got.status == "ready") != tc.ready {
				t.Errorf("document %+v, want ready %v", got, tc.ready)
			}
		})
	}
}

// TestTenantFlipsDoNotWaitForEachOther: with a writer free, a document
// ready while another document of its tenant is being written is written
// at once, beside it, not after it (group commit only when every writer is
// busy); with a single writer it queues behind it.
func TestTenantFlipsDoNotWaitForEachOther(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		writers int
		waits   bool
	}{{writers: 2, waits: false}, {writers: 1, waits: true}} {
		t.Run(map[bool]string{false: "writer free", true: "single writer"}[tc.waits], func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tdb := tenantdbtest.NewDatabase(t)
			// The first chunk INSERT (the first document's flip) stops
			// inside its transaction until the test lets it go.
			gw := newPausingGateway(t, tdb.WorkerURL, `INSERT INTO "chunks"`)
			st := pgstore.New(gw, nil).Group(pgstore.GroupConfig{MaxDocs: 16, Writers: tc.writers})
			tenant := uuid.New()
			open := func(id string) pipeline.Pending {
				d := doc(tenant, id, "")
				d.Version = "sha256:" + id
				_, p, err := st.For(tenantdbtest.Scope(t, tenant).WithJob("job-"+id)).Open(ctx, d, "k")
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			first, second := open("first"), open("second")
			cs, es := batch(0, 1, 2)
			firstDone := make(chan error, 1)
			go func() { firstDone <- first.Finish(ctx, cs, es, 3, "test-words") }()
			<-gw.reached
			secondDone := make(chan error, 1)
			go func() { secondDone <- second.Finish(ctx, cs, es, 3, "test-words") }()
			if tc.waits {
				// Polling for the queued flip, not a fixed wait: it stays
				// queued while the only writer is held.
				for pgstore.Queued(st, tenant) != 1 {
					select {
					case err := <-secondDone:
						t.Fatalf("the second flip did not wait for the single writer: %v", err)
					case <-ctx.Done():
						t.Fatal("the second flip never queued")
					default:
						time.Sleep(time.Millisecond)
					}
				}
				close(gw.resume)
				if err := <-secondDone; err != nil {
					t.Fatal(err)
				}
			} else {
				select {
				case err := <-secondDone:
					if err != nil {
						t.Fatal(err)
					}
				case <-ctx.Done():
					close(gw.resume)
					t.Fatal("the second flip waited for the first document's write")
				}
				close(gw.resume)
			}
			if err := <-firstDone; err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"first", "second"} {
				if got := readState(t, gw, tenantdbtest.Scope(t, tenant), id); got.status != "ready" || got.visible != 3 || got.audits != 1 {
					t.Errorf("%s: %+v", id, got)
				}
			}
		})
	}
}

// While every writer is busy with one tenant's groups, another tenant's
// flip is written on the reserve at once; the busy tenant's next flip
// still waits for a writer.
func TestReserveWriterForAnotherTenant(t *testing.T) {
	t.Parallel()
	for _, reserve := range []int{0, 1} {
		t.Run(map[int]string{0: "no reserve", 1: "reserve"}[reserve], func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tdb := tenantdbtest.NewDatabase(t)
			// The first chunk INSERT (the backlog's first flip) stops inside
			// its transaction until the test lets it go.
			gw := newPausingGateway(t, tdb.WorkerURL, `INSERT INTO "chunks"`)
			st := pgstore.New(gw, nil).Group(pgstore.GroupConfig{MaxDocs: 16, Writers: 1, Reserve: reserve})
			busy, other := uuid.New(), uuid.New()
			open := func(tenant uuid.UUID, id string) pipeline.Pending {
				d := doc(tenant, id, "")
				d.Version = "sha256:" + id
				_, p, err := st.For(tenantdbtest.Scope(t, tenant).WithJob("job-"+id)).Open(ctx, d, "k")
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			first, next, theirs := open(busy, "first"), open(busy, "next"), open(other, "theirs")
			cs, es := batch(0, 1, 2)
			finish := func(p pipeline.Pending) chan error {
				done := make(chan error, 1)
				go func() { done <- p.Finish(ctx, cs, es, 3, "test-words") }()
				return done
			}
			firstDone := finish(first)
			<-gw.reached
			nextDone := finish(next)
			waitQueued := func(tenant uuid.UUID, done chan error, what string) {
				t.Helper()
				for pgstore.Queued(st, tenant) != 1 {
					select {
					case err := <-done:
						t.Fatalf("%s did not wait for the writer: %v", what, err)
					case <-ctx.Done():
						t.Fatalf("%s never queued", what)
					default:
						time.Sleep(time.Millisecond)
					}
				}
			}
			waitQueued(busy, nextDone, "the busy tenant's next flip")
			theirsDone := finish(theirs)
			if reserve > 0 {
				select {
				case err := <-theirsDone:
					if err != nil {
						t.Fatal(err)
					}
				case <-ctx.Done():
					close(gw.resume)
					t.Fatal("the other tenant's flip waited for the busy tenant's write")
				}
				if pgstore.Queued(st, busy) != 1 {
					t.Fatal("the busy tenant's next flip took the reserve")
				}
			} else {
				waitQueued(other, theirsDone, "the other tenant's flip")
			}
			close(gw.resume)
			for _, done := range []chan error{firstDone, nextDone, theirsDone} {
				if reserve > 0 && done == theirsDone {
					continue
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			for tenant, ids := range map[uuid.UUID][]string{busy: {"first", "next"}, other: {"theirs"}} {
				for _, id := range ids {
					if got := readState(t, gw, tenantdbtest.Scope(t, tenant), id); got.status != "ready" || got.visible != 3 || got.audits != 1 {
						t.Errorf("%s: %+v", id, got)
					}
				}
			}
		})
	}
}
