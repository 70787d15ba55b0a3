package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/worker"
)

// A tenant whose messages keep failing trips its breaker; its next verified
// messages are parked (once, even when delivered again), an operator's
// pause and resume are audited with the operator as actor, and resume
// releases everything parked, in order, through the gate.
func TestTripParkResumeRelease(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{ConsecutiveFailures: 3, MinSamples: 1000, ReleaseRate: 1000})
	b := uuid.New()

	for i, id := range []string{"m1", "m2", "m3"} {
		m := e.deleteJob(t, b, "doc-"+id, id)
		sc := e.verify(t, m)
		d, err := e.b.Admit(ctx, sc, m)
		if err != nil || d.Park {
			t.Fatalf("admit %s: %+v %v", id, d, err)
		}
		tr, err := e.b.Record(ctx, sc, breaker.Outcome{JobID: id, Failed: true, Reason: "extract_failed"})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]breaker.Transition{true: breaker.Trip, false: breaker.NoChange}[i == 2]; tr != want {
			t.Fatalf("after %d failures: %q, want %q", i+1, tr, want)
		}
	}
	var parked []string
	for _, id := range []string{"m4", "m5", "m4"} { // m4 delivered twice (a kill between commit and delete)
		m := e.deleteJob(t, b, "doc-"+id, id)
		sc := e.verify(t, m)
		d, err := e.b.Admit(ctx, sc, m)
		if err != nil || !d.Park || !strings.Contains(d.Reason, "3 consecutive permanent failures") {
			t.Fatalf("admit %s after the trip: %+v %v", id, d, err)
		}
		if err := e.b.Park(ctx, sc, m, d.Reason); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(parked, string(m.Body)) {
			parked = append(parked, string(m.Body))
		}
	}
	st := e.status(t, b)
	if st.State != breaker.Open || st.Parked != 2 || st.ConsecutiveFailures != 3 || len(st.LastFailures) != 3 ||
		st.LastFailures[2].Reason != "extract_failed" || st.LastFailures[2].JobID != "m3" {
		t.Fatalf("status after the trip: %+v", st)
	}
	if n, err := e.rel.ReleaseOnce(ctx); err != nil || n != 0 {
		t.Fatalf("released %d while open (%v)", n, err)
	}

	if err := e.op.Pause(ctx, b, "alice", "integration broken"); err != nil {
		t.Fatal(err)
	}
	if st := e.status(t, b); st.State != breaker.Open || !st.Manual || st.Reason != "integration broken" || st.Actor != "operator:alice" {
		t.Fatalf("status after pause: %+v", st)
	}
	if err := e.op.Resume(ctx, b, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	n, err := e.rel.ReleaseOnce(ctx)
	if err != nil || n != 2 {
		t.Fatalf("released %d (%v), want 2", n, err)
	}
	got := e.sent.all()
	for i, s := range got {
		if s.Body != parked[i] || s.Attrs["producer"] != "test" || s.Attrs[breaker.AttrReleasedSeq] == "" {
			t.Errorf("released #%d out of order or without its attributes: %v", i, s.Attrs)
		}
	}
	if st := e.status(t, b); st.State != breaker.Closed || st.Parked != 0 {
		t.Fatalf("status after release: %+v", st)
	}
	want := []string{"breaker.trip by tenantry:breaker", "breaker.pause by operator:alice", "breaker.resume by operator:alice",
		"breaker.release by tenantry:breaker", "breaker.release by tenantry:breaker"}
	if got := e.auditActions(t, b); !slices.Equal(got, want) {
		t.Errorf("audit chain:\n got %q\nwant %q", got, want)
	}
	m := e.deleteJob(t, b, "doc-m6", "m6")
	if d, err := e.b.Admit(ctx, e.verify(t, m), m); err != nil || d.Park {
		t.Errorf("closed again, a message is parked: %+v %v", d, err)
	}
}

// After OpenFor, one trial runs (the oldest parked message, released as the
// trial, or a new one); other messages keep parking; the trial's success
// closes the breaker and the rest is released; a failed trial re-opens it.
func TestHalfOpenTrial(t *testing.T) {
	t.Parallel()
	for _, success := range []bool{true, false} {
		t.Run(map[bool]string{true: "success closes", false: "failure re-opens"}[success], func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			e := newEnv(t, breaker.Config{ConsecutiveFailures: 1, MinSamples: 1000, ReleaseRate: 1000})
			b := uuid.New()
			m1 := e.deleteJob(t, b, "d1", "m1")
			if tr, err := e.b.Record(ctx, e.verify(t, m1), breaker.Outcome{JobID: "m1", Failed: true, Reason: "x"}); err != nil || tr != breaker.Trip {
				t.Fatalf("%q %v", tr, err)
			}
			for _, id := range []string{"m2", "m3"} {
				m := e.deleteJob(t, b, "d-"+id, id)
				if err := e.b.Park(ctx, e.verify(t, m), m, "tripped"); err != nil {
					t.Fatal(err)
				}
			}
			// OpenFor has passed (set in the database rather than waited for).
			c := tenantdbtest.Conn(t, e.db.OwnerURL)
			if _, err := c.Exec(ctx, "UPDATE tenant_breakers SET retry_at = now() - interval '1 second'"); err != nil {
				t.Fatal(err)
			}
			if n, err := e.rel.ReleaseOnce(ctx); err != nil || n != 1 {
				t.Fatalf("half-open released %d (%v), want the one trial", n, err)
			}
			e.expireLease(t)
			if n, err := e.rel.ReleaseOnce(ctx); err != nil || n != 0 {
				t.Fatalf("released %d more while the trial is in flight (%v)", n, err)
			}
			trial := e.sent.all()[0]
			tm := e.deleteJob(t, b, "d-m2", "redelivered-as-new-id")
			tm.Body, tm.Attributes = []byte(trial.Body), trial.Attrs
			ts := e.verify(t, tm)
			d, err := e.b.Admit(ctx, ts, tm)
			if err != nil || !d.Trial {
				t.Fatalf("the released trial is not the trial: %+v %v", d, err)
			}
			other := e.deleteJob(t, b, "d-m9", "m9")
			if d, err := e.b.Admit(ctx, e.verify(t, other), other); err != nil || !d.Park {
				t.Fatalf("a second message ran beside the trial: %+v %v", d, err)
			}
			tr, err := e.b.Record(ctx, ts, breaker.Outcome{JobID: tm.ID, Trial: true, Failed: !success, Reason: "x"})
			if err != nil {
				t.Fatal(err)
			}
			e.expireLease(t)
			n, err := e.rel.ReleaseOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			st := e.status(t, b)
			if success && (tr != breaker.Close || st.State != breaker.Closed || n != 1 || st.Parked != 0) {
				t.Errorf("after a successful trial: %q, released %d, %+v", tr, n, st)
			}
			if !success && (tr != breaker.Reopen || st.State != breaker.Open || n != 0 || st.Parked != 1 ||
				!strings.HasPrefix(st.Reason, "trial failed")) {
				t.Errorf("after a failed trial: %q, released %d, %+v", tr, n, st)
			}
		})
	}
}

// An operator's pause is seen by every worker at its next message (the
// state is read from the database, not cached), and resume lets them run.
func TestPauseReachesEveryWorker(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{})
	other, err := breaker.New(breaker.Config{}, e.db.Open(t), nil, nil) // a second worker process
	if err != nil {
		t.Fatal(err)
	}
	tenant, bystander := uuid.New(), uuid.New()
	if err := e.op.Pause(ctx, tenant, "bob", "maintenance"); err != nil {
		t.Fatal(err)
	}
	for i, w := range []*breaker.Breaker{e.b, other} {
		m := e.deleteJob(t, tenant, "d", "m")
		if d, err := w.Admit(ctx, e.verify(t, m), m); err != nil || !d.Park || d.Reason != "maintenance" {
			t.Errorf("worker %d runs a paused tenant's message: %+v %v", i, d, err)
		}
		m = e.deleteJob(t, bystander, "d", "m")
		if d, err := w.Admit(ctx, e.verify(t, m), m); err != nil || d.Park {
			t.Errorf("worker %d parks another tenant's message: %+v %v", i, d, err)
		}
	}
	// The operator's connection sees every tenant's row: its pause moved
	// only the tenant it named.
	if err := e.op.Pause(ctx, bystander, "bob", "second"); err != nil {
		t.Fatal(err)
	}
	if err := e.op.Resume(ctx, bystander, "bob", "only this one"); err != nil {
		t.Fatal(err)
	}
	if st := e.status(t, tenant); st.State != breaker.Open || st.Reason != "maintenance" || st.Tenant != tenant.String() {
		t.Fatalf("resuming another tenant moved this one: %+v", st)
	}
	if err := e.op.Resume(ctx, tenant, "bob", "done"); err != nil {
		t.Fatal(err)
	}
	for i, w := range []*breaker.Breaker{e.b, other} {
		m := e.deleteJob(t, tenant, "d", "m")
		if d, err := w.Admit(ctx, e.verify(t, m), m); err != nil || d.Park {
			t.Errorf("worker %d still parks after resume: %+v %v", i, d, err)
		}
	}
	if err := e.op.Pause(ctx, tenant, "bob", ""); !errors.Is(err, breaker.ErrReasonRequired) {
		t.Errorf("pause without a reason: %v", err)
	}
}

// Killed after the parked row committed but before the SQS delete: the
// redelivery is parked once. Killed after the release was sent but before
// its row was deleted: the row is still there (0 lost) and is released
// again once the lease lapses; the worker's idempotent writes make the two
// deliveries one effect (pgstore, TestCrashBetweenCommitAndDeleteHasOneEffect).
func TestParkedWorkSurvivesAKill(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{ReleaseRate: 1000})
	tenant := uuid.New()
	if err := e.op.Pause(ctx, tenant, "carol", "drill"); err != nil {
		t.Fatal(err)
	}
	m := e.deleteJob(t, tenant, "d", "m1")
	for range 3 {
		if err := e.b.Park(ctx, e.verify(t, m), m, "drill"); err != nil {
			t.Fatal(err)
		}
	}
	if st := e.status(t, tenant); st.Parked != 1 {
		t.Fatalf("parked %d times", st.Parked)
	}
	if err := e.op.Resume(ctx, tenant, "carol", "drill over"); err != nil {
		t.Fatal(err)
	}
	kill, cancel := context.WithCancel(ctx)
	e.sent.fail = func() error { cancel(); return nil } // sent, then the process dies
	if _, err := e.rel.ReleaseOnce(kill); err == nil {
		t.Fatal("a release killed before its delete reported success")
	}
	if st := e.status(t, tenant); st.Parked != 1 {
		t.Fatalf("killed mid-release: %d parked, want 1 (not lost)", st.Parked)
	}
	e.sent.fail = nil
	next, err := breaker.NewReleaser(e.b, e.gw, e.gate, e.sent) // the worker that takes over
	if err != nil {
		t.Fatal(err)
	}
	if n, err := next.ReleaseOnce(ctx); err != nil || n != 0 {
		t.Fatalf("released %d under the killed worker's lease (%v)", n, err)
	}
	e.expireLease(t)
	if n, err := next.ReleaseOnce(ctx); err != nil || n != 1 {
		t.Fatalf("released %d after the lease lapsed (%v)", n, err)
	}
	if st, sent := e.status(t, tenant), e.sent.all(); st.Parked != 0 || len(sent) != 2 || sent[0].Body != sent[1].Body {
		t.Fatalf("after the second release: %+v, %d sends", st, len(sent))
	}
}

// The scoped API (for a tenant's own console) sees only its tenant.
func TestScopedStatus(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{})
	a, b := uuid.New(), uuid.New()
	if err := e.b.Pause(ctx, tenantdbtest.Scope(t, b), "tenant admin pause"); err != nil {
		t.Fatal(err)
	}
	st, err := e.b.Status(ctx, tenantdbtest.Scope(t, a))
	if err != nil || st.State != breaker.Closed || st.Tenant != a.String() {
		t.Errorf("a's status: %+v %v", st, err)
	}
	st, err = e.b.Status(ctx, tenantdbtest.Scope(t, b))
	if err != nil || st.State != breaker.Open || st.Actor != "test-actor" {
		t.Errorf("b's status: %+v %v", st, err)
	}
	if _, err := e.b.Status(ctx, tenantdb.Scope{}); !errors.Is(err, tenantdb.ErrNoScope) {
		t.Errorf("status without a scope: %v", err)
	}
}

// Deferred messages (fair-dispatch overflow) are kept like parked ones, go
// back only while the tenant is ready for more, in order, and leave no
// breaker audit event.
func TestDeferredWorkIsFedBackWhenReady(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{ReleaseRate: 1000})
	tenant := uuid.New() // never ran anything: deferring alone makes its work findable
	var bodies []string
	for _, id := range []string{"d1", "d2", "d3"} {
		m := e.deleteJob(t, tenant, "doc-"+id, id)
		if err := e.b.Defer(ctx, e.verify(t, m), m); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(m.Body))
	}
	var ready atomic.Bool
	e.rel.SetReady(func(uuid.UUID) bool { return ready.Load() })
	if n, err := e.rel.ReleaseOnce(ctx); err != nil || n != 0 {
		t.Fatalf("fed back %d while the tenant is backlogged (%v)", n, err)
	}
	ready.Store(true)
	if n, err := e.rel.ReleaseOnce(ctx); err != nil || n != 3 { // its own lease: renewed, not waited out
		t.Fatalf("fed back %d (%v), want 3", n, err)
	}
	for i, s := range e.sent.all() {
		if s.Body != bodies[i] {
			t.Errorf("deferred message %d fed back out of order", i)
		}
	}
	if got := e.auditActions(t, tenant); len(got) != 0 {
		t.Errorf("deferral audited as breaker transitions: %q", got)
	}
	if st := e.status(t, tenant); st.Parked != 0 || st.State != breaker.Closed {
		t.Errorf("status: %+v", st)
	}
}

// Successes count toward the failure ratio's window (their one-statement
// path included): 2 failures of 8 do not trip at 0.5, 6 of 12 do; a
// success between failures resets the consecutive run.
func TestFailureRatioCountsSuccesses(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{MinSamples: 4, FailureRatio: 0.5, ConsecutiveFailures: 100})
	tenant := uuid.New()
	sc := tenantdbtest.Scope(t, tenant)
	var last breaker.Transition
	for i, failed := range []bool{false, true, false, true} {
		if _, err := e.b.Record(ctx, sc, breaker.Outcome{JobID: "ok"}); i == 0 && err != nil { // a first success creates the row
			t.Fatal(err)
		}
		tr, err := e.b.Record(ctx, sc, breaker.Outcome{JobID: "m", Failed: failed, Reason: "x"})
		if err != nil {
			t.Fatal(err)
		}
		last = tr
		if st := e.status(t, tenant); st.ConsecutiveFailures > 1 {
			t.Fatalf("a success did not reset the run: %+v", st)
		}
	}
	// 8 outcomes, 2 failed: below 0.5.
	if st := e.status(t, tenant); last != breaker.NoChange || st.State != breaker.Closed || st.WindowTotal != 8 || st.WindowFailures != 2 {
		t.Fatalf("after 8 outcomes (2 failed): %q %+v", last, st)
	}
	for range 6 {
		if last, _ = e.b.Record(ctx, sc, breaker.Outcome{JobID: "f", Failed: true, Reason: "x"}); last == breaker.Trip {
			break
		}
	}
	if st := e.status(t, tenant); last != breaker.Trip || st.State != breaker.Open || st.WindowTotal != 12 || st.WindowFailures != 6 {
		t.Errorf("the ratio did not trip at 6 of 12: %q %+v", last, st)
	}
}

// Guard decides and keeps in one transaction: a closed breaker runs the
// message, or defers it when the worker holds a backlog of the tenant; an
// open one parks it (with the breaker's reason, backlog or not); a
// half-open trial runs even when the tenant is backlogged.
func TestGuard(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{})
	closed, paused, trial := uuid.New(), uuid.New(), uuid.New()
	if err := e.op.Pause(ctx, paused, "ops", "held"); err != nil {
		t.Fatal(err)
	}
	if err := e.op.Pause(ctx, trial, "ops", "held"); err != nil {
		t.Fatal(err)
	}
	c := tenantdbtest.Conn(t, e.db.OwnerURL)
	if _, err := c.Exec(ctx, "UPDATE tenant_breakers SET manual = false, retry_at = now() - interval '1 second' WHERE tenant_id = $1", trial); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		tenant     uuid.UUID
		backlogged bool
		kept       string
		trial      bool
	}{
		{"closed runs", closed, false, "", false},
		{"closed, backlogged: deferred", closed, true, breaker.ReasonDeferred, false},
		{"open: parked", paused, false, "parked", false},
		{"open, backlogged: parked, not deferred", paused, true, "parked", false},
		{"half-open: the trial runs, backlog or not", trial, true, "", true},
	} {
		m := e.deleteJob(t, tc.tenant, "d", "m-"+strings.ReplaceAll(tc.name, " ", "-"))
		d, err := e.b.Guard(ctx, e.verify(t, m), m, tc.backlogged)
		if err != nil || d.Kept != tc.kept || d.Trial != tc.trial {
			t.Errorf("%s: %+v %v", tc.name, d, err)
		}
	}
	for tenant, want := range map[uuid.UUID]int64{closed: 1, paused: 2, trial: 0} {
		if st := e.status(t, tenant); st.Parked != want {
			t.Errorf("tenant %s: %d kept, want %d", tenant, st.Parked, want)
		}
	}
}

// After a breaker closes, a new message of the tenant does not run ahead of
// the work parked while it was open: it is deferred behind it and the
// releaser puts both back in order. A released message (its seq attribute)
// runs; refused rows, never released, hold nothing back; another tenant is
// not affected.
func TestNewWorkWaitsBehindParkedWork(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{ReleaseRate: 1000})
	tenant, other := uuid.New(), uuid.New()
	if err := e.op.Pause(ctx, tenant, "ops", "held"); err != nil {
		t.Fatal(err)
	}
	guard := func(tn uuid.UUID, id string, attrs map[string]string) breaker.Decision {
		t.Helper()
		m := e.deleteJob(t, tn, "doc-"+id, id)
		for k, v := range attrs {
			m.Attributes[k] = v
		}
		d, err := e.b.Guard(ctx, e.verify(t, m), m, false)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := guard(tenant, "old", nil); d.Kept != "parked" {
		t.Fatalf("open: %+v", d)
	}
	if err := e.op.Resume(ctx, tenant, "ops", "fixed"); err != nil {
		t.Fatal(err)
	}
	if d := guard(tenant, "new", nil); d.Kept != breaker.ReasonDeferred {
		t.Fatalf("a new message ran ahead of the parked one: %+v", d)
	}
	if d := guard(other, "x", nil); d.Kept != "" {
		t.Fatalf("another tenant held back: %+v", d)
	}
	if n, err := e.rel.ReleaseOnce(ctx); err != nil || n != 2 {
		t.Fatalf("released %d (%v), want 2", n, err)
	}
	got := e.sent.all()
	if len(got) != 2 || !strings.Contains(got[0].Body, "doc-old") || !strings.Contains(got[1].Body, "doc-new") {
		t.Fatalf("released out of order: %v", got)
	}
	// Each comes back with its seq and runs.
	if d := guard(tenant, "old", got[0].Attrs); d.Kept != "" {
		t.Fatalf("a released message was kept again: %+v", d)
	}
	if d := guard(tenant, "later", nil); d.Kept != "" {
		t.Fatalf("nothing parked any more, yet kept: %+v", d)
	}
	// Fair-dispatch deferrals after the close hold nothing back: a tenant
	// with a backlog here does not send its every message that way.
	m := e.deleteJob(t, tenant, "doc-overflow", "overflow")
	if d, err := e.b.Guard(ctx, e.verify(t, m), m, true); err != nil || d.Kept != breaker.ReasonDeferred {
		t.Fatalf("backlogged: %+v %v", d, err)
	}
	if d := guard(tenant, "not-backlogged", nil); d.Kept != "" {
		t.Fatalf("a deferral made the next message wait: %+v", d)
	}
	if n, err := e.rel.ReleaseOnce(ctx); err != nil || n != 1 {
		t.Fatalf("released %d (%v), want the deferred one", n, err)
	}

	// A refused row is kept for operators and never released: it holds
	// nothing back.
	if err := e.op.Pause(ctx, tenant, "ops", "held"); err != nil {
		t.Fatal(err)
	}
	if d := guard(tenant, "refused", nil); d.Kept != "parked" {
		t.Fatalf("open: %+v", d)
	}
	c := tenantdbtest.Conn(t, e.db.OwnerURL)
	if _, err := c.Exec(ctx, "UPDATE parked_messages SET refused = 'parked_unreadable' WHERE tenant_id = $1", tenant); err != nil {
		t.Fatal(err)
	}
	if err := e.op.Resume(ctx, tenant, "ops", "fixed"); err != nil {
		t.Fatal(err)
	}
	if d := guard(tenant, "after-refused", nil); d.Kept != "" {
		t.Fatalf("a refused row held a new message back: %+v", d)
	}
}

// countingGateway counts the tenant transactions begun through it.
type countingGateway struct {
	breaker.Gateway
	txs atomic.Int64
}

func (g *countingGateway) WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(context.Context, tenantdb.Tx) error) error {
	g.txs.Add(1)
	return g.Gateway.WithTenant(ctx, scope, fn)
}

// A backlog overflowing the worker's intake arrives at once: its messages
// are deferred together, far fewer transactions than messages, each kept
// exactly once (a redelivery in the same burst too), before any Guard
// returns; a lone message is not held back for a batch.
func TestGuardDefersABacklogInBatches(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	e := newEnv(t, breaker.Config{})
	gw := &countingGateway{Gateway: e.gw}
	b, err := breaker.New(breaker.Config{}, gw, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.New()
	const n = 40
	type job struct {
		m     *worker.Message
		scope tenantdb.Scope
	}
	jobs := make([]job, 0, n+1)
	for i := range n {
		m := e.deleteJob(t, tenant, "d", fmt.Sprintf("burst-%02d", i))
		jobs = append(jobs, job{m, e.verify(t, m)})
	}
	jobs = append(jobs, jobs[7]) // a redelivery in the same burst
	go0 := make(chan struct{})
	var wg sync.WaitGroup
	kept := make([]string, len(jobs))
	for i, j := range jobs {
		wg.Go(func() {
			<-go0
			d, err := b.Guard(ctx, j.scope, j.m, true)
			if err != nil {
				t.Error(err)
			}
			kept[i] = d.Kept
		})
	}
	close(go0)
	wg.Wait()
	for i, k := range kept {
		if k != breaker.ReasonDeferred {
			t.Errorf("message %d: kept %q, want deferred", i, k)
		}
	}
	if st := e.status(t, tenant); st.Parked != n {
		t.Errorf("%d kept, want %d (each once)", st.Parked, n)
	}
	if txs := gw.txs.Load(); txs > n/4 {
		t.Errorf("%d transactions for %d deferrals: not batched", txs, len(jobs))
	}
	before := gw.txs.Load()
	lone := e.deleteJob(t, tenant, "d", "lone")
	if d, err := b.Guard(ctx, e.verify(t, lone), lone, true); err != nil || d.Kept != breaker.ReasonDeferred {
		t.Fatalf("lone message: %+v %v", d, err)
	}
	if txs := gw.txs.Load() - before; txs != 1 {
		t.Errorf("lone message: %d transactions, want 1", txs)
	}
}
