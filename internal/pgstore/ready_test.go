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
			w := newPausedWrite(ctx, t, pgstore.GroupConfig{MaxDocs: 16, Writers: tc.writers})
			tenant := uuid.New()
			first, second := w.open(tenant, "first"), w.open(tenant, "second")
			firstDone := w.finish(first)
			<-w.gw.reached
			secondDone := w.finish(second)
			if tc.waits {
				w.waitQueued(tenant, secondDone, "the second flip")
				close(w.gw.resume)
				w.done(secondDone, "the second flip")
			} else {
				w.done(secondDone, "the second flip")
				close(w.gw.resume)
			}
			w.done(firstDone, "the first flip")
			w.wantReady(map[uuid.UUID][]string{tenant: {"first", "second"}})
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
			w := newPausedWrite(ctx, t, pgstore.GroupConfig{MaxDocs: 16, Writers: 1, Reserve: reserve})
			busy, other := uuid.New(), uuid.New()
			first, next, theirs := w.open(busy, "first"), w.open(busy, "next"), w.open(other, "theirs")
			firstDone := w.finish(first)
			<-w.gw.reached
			nextDone := w.finish(next)
			w.waitQueued(busy, nextDone, "the busy tenant's next flip")
			theirsDone := w.finish(theirs)
			if reserve > 0 {
				w.done(theirsDone, "the other tenant's flip")
				if pgstore.Queued(w.st, busy) != 1 {
					t.Fatal("the busy tenant's next flip took the reserve")
				}
			} else {
				w.waitQueued(other, theirsDone, "the other tenant's flip")
			}
			close(w.gw.resume)
			w.done(firstDone, "the first flip")
			w.done(nextDone, "the busy tenant's next flip")
			if reserve == 0 {
				w.done(theirsDone, "the other tenant's flip")
			}
			w.wantReady(map[uuid.UUID][]string{busy: {"first", "next"}, other: {"theirs"}})
		})
	}
}

// pausedWrite is a grouped store whose first chunk INSERT (the first
// flip's) stops inside its transaction until the test closes gw.resume.
type pausedWrite struct {
	ctx context.Context
	t   *testing.T
	gw  *pausingGateway
	st  *pgstore.Store
}

func newPausedWrite(ctx context.Context, t *testing.T, cfg pgstore.GroupConfig) *pausedWrite {
	t.Helper()
	tdb := tenantdbtest.NewDatabase(t)
	gw := newPausingGateway(t, tdb.WorkerURL, `INSERT INTO "chunks"`)
	return &pausedWrite{ctx: ctx, t: t, gw: gw, st: pgstore.New(gw, nil).Group(cfg)}
}

// open opens a pending version of tenant's document id.
func (w *pausedWrite) open(tenant uuid.UUID, id string) pipeline.Pending {
	w.t.Helper()
	d := doc(tenant, id, "")
	d.Version = "sha256:" + id
	_, p, err := w.st.For(tenantdbtest.Scope(w.t, tenant).WithJob("job-"+id)).Open(w.ctx, d, "k")
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// finish finishes p with three chunks in the background.
func (w *pausedWrite) finish(p pipeline.Pending) chan error {
	cs, es := batch(0, 1, 2)
	done := make(chan error, 1)
	go func() { done <- p.Finish(w.ctx, cs, es, 3, "test-words") }()
	return done
}

// waitQueued polls (no fixed wait) until tenant has one flip queued,
// failing if done delivers first: that flip did not wait for a writer.
func (w *pausedWrite) waitQueued(tenant uuid.UUID, done chan error, what string) {
	w.t.Helper()
	for pgstore.Queued(w.st, tenant) != 1 {
		select {
		case err := <-done:
			w.t.Fatalf("%s did not wait for a writer: %v", what, err)
		case <-w.ctx.Done():
			w.t.Fatalf("%s never queued", what)
		default:
			time.Sleep(time.Millisecond)
		}
	}
}

// done waits for a flip's success; if the test's time ends first, it lets
// the paused write go and fails.
func (w *pausedWrite) done(done chan error, what string) {
	w.t.Helper()
	select {
	case err := <-done:
		if err != nil {
			w.t.Fatalf("%s: %v", what, err)
		}
	case <-w.ctx.Done():
		select {
		case <-w.gw.resume:
		default:
			close(w.gw.resume)
		}
		w.t.Fatalf("%s waited for the paused write", what)
	}
}

// wantReady checks each document is ready with its 3 chunks visible and
// one audit row.
func (w *pausedWrite) wantReady(docs map[uuid.UUID][]string) {
	w.t.Helper()
	for tenant, ids := range docs {
		for _, id := range ids {
			if got := readState(w.t, w.gw, tenantdbtest.Scope(w.t, tenant), id); got.status != "ready" || got.visible != 3 || got.audits != 1 {
				w.t.Errorf("%s: %+v", id, got)
			}
		}
	}
}
