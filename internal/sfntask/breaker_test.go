package sfntask_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/statemachine"
)

// newBreakerEnv is an env whose tasks pass the tenants' breakers (cfg),
// with an operator to pause and resume them.
func newBreakerEnv(t *testing.T, cfg breaker.Config) (*env, *breaker.Operator) {
	t.Helper()
	e := newEnvWith(t, func(gw *tenantdb.DB) *breaker.Breaker {
		b, err := breaker.New(cfg, gw, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	op, err := tenantdb.OpenOperator(context.Background(), e.db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	return e, breaker.NewOperator(op, nil, nil)
}

// refused checks that the last answer refused a task of stage with
// Tenantry.BreakerOpen.
func (e *env) refused(stage string) {
	e.t.Helper()
	a := e.last()
	c, _ := sfntask.ParseCause(a.cause)
	if a.op != "SendTaskFailure" || a.errName != sfntask.ErrorBreakerOpen || c.Reason != breaker.ReasonOpen || string(c.Stage) != stage {
		e.t.Errorf("%s: %s %s %s, want a failure %s (%s)", stage, a.op, a.errName, a.cause, sfntask.ErrorBreakerOpen, breaker.ReasonOpen)
	}
}

// A paused tenant's tasks, at every stage and through both transports (task
// tokens and the Express variant's invocations), are refused with
// Tenantry.BreakerOpen before they do anything: nothing is written. Another
// tenant's tasks run meanwhile, and after the resume the refused task runs.
func TestBreakerHoldsAPausedTenantsTasks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, op := newBreakerEnv(t, breaker.Config{})
	paused, other := uuid.New(), uuid.New()
	pausedKey := e.upload(paused, "doc-p", "text/plain")
	doc := e.verify(pausedKey) // verified before the pause
	otherDoc := e.verify(e.upload(other, "doc-o", "text/plain"))
	if err := op.Pause(ctx, paused, "alice", "maintenance"); err != nil {
		t.Fatal(err)
	}
	puts := len(e.s3.puts)

	for _, task := range []map[string]any{
		{"stage": "verify", "input": json.RawMessage(statemachine.Input{Bucket: bucket, Key: pausedKey}.JSON())},
		{"stage": "extract", "doc": doc},
		{"stage": "chunk", "doc": doc},
		{"stage": "embed", "doc": doc, "batch": 0},
		{"stage": "store", "doc": doc},
		{"stage": "finalize", "doc": doc},
	} {
		stage := task["stage"].(string)
		payload, _ := json.Marshal(map[string]any{"stage": stage, "execution": "exec-1", "doc": task["doc"], "batch": task["batch"],
			"input": task["input"]})
		if err := e.handle(task); err != nil {
			t.Fatalf("%s: outcome %v (an answered task is acknowledged)", stage, err)
		}
		e.refused(stage)
		if _, f := e.h.Invoke(ctx, payload); f == nil || f.Name != sfntask.ErrorBreakerOpen || f.Reason != breaker.ReasonOpen {
			t.Errorf("%s invoked: %+v, want %s", stage, f, sfntask.ErrorBreakerOpen)
		}
	}
	// The Express variant catches the refusal once its retries ran out:
	// MarkFailed marks nothing (the failure queue keeps it for a replay).
	var mf sfntask.MarkFailedOutput
	e.run(map[string]any{"stage": "markfailed", "doc": doc, "failure": map[string]string{
		"Error": sfntask.ErrorBreakerOpen, "Cause": `{"stage":"extract","reason":"breaker_open"}`}}, &mf)
	if mf.Recorded || mf.Reason != breaker.ReasonOpen {
		t.Errorf("markfailed of a held document: %+v", mf)
	}
	if n := len(e.s3.puts); n != puts {
		t.Errorf("%d intermediate objects written while paused", n-puts)
	}
	if n := e.count(`SELECT count(*) FROM documents WHERE tenant_id = $1`, paused); n != 0 {
		t.Errorf("%d documents written while paused", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action NOT LIKE 'breaker.%'`, paused); n != 0 {
		t.Errorf("%d audit rows written while paused", n)
	}

	// Another tenant's work runs meanwhile.
	var ex sfntask.ExtractOutput
	e.run(map[string]any{"stage": "extract", "doc": otherDoc}, &ex)
	if ex.Skip || ex.Claim != "proceed" {
		t.Errorf("the other tenant's extract: %+v", ex)
	}

	// Resumed, the refused task runs (the state machine's retry).
	if err := op.Resume(ctx, paused, "alice", "done"); err != nil {
		t.Fatal(err)
	}
	e.run(map[string]any{"stage": "extract", "doc": doc}, &ex)
	if ex.Skip || ex.Claim != "proceed" {
		t.Errorf("extract after the resume: %+v", ex)
	}
	if n := e.count(`SELECT count(*) FROM documents WHERE tenant_id = $1`, paused); n != 1 {
		t.Errorf("%d documents after the resume, want 1", n)
	}
}

// Tasks' outcomes count toward the breaker as SQS messages do, one verdict
// per document: permanent failures trip it (the successful Verify between
// them is no verdict, so it does not break the run); while it is open a
// task is refused, MarkFailed still records the failures that tripped it;
// after OpenFor an execution's tasks run as the half-open trial (another
// execution's wait), and only its document becoming ready closes the
// breaker.
func TestTaskOutcomesTripAndCloseTheBreaker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, op := newBreakerEnv(t, breaker.Config{ConsecutiveFailures: 2, MinSamples: 1000})
	tenant := uuid.New()
	var last map[string]any
	var caught map[string]string
	for _, d := range []string{"bad-1", "bad-2"} {
		exec := "exec-" + d
		var doc map[string]any
		e.run(map[string]any{"stage": "verify", "execution": exec,
			"input": json.RawMessage(statemachine.Input{Bucket: bucket, Key: e.upload(tenant, d, "application/x-msdownload")}.JSON())}, &doc)
		if err := e.handle(map[string]any{"stage": "extract", "execution": exec, "doc": doc}); err != nil {
			t.Fatal(err)
		}
		if a := e.last(); a.errName != sfntask.ErrorPermanent {
			t.Fatalf("extract of %s: %+v", d, a)
		}
		last, caught = doc, map[string]string{"Error": e.last().errName, "Cause": e.last().cause}
	}
	st, err := op.Status(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != breaker.Open || len(st.LastFailures) != 2 || st.LastFailures[1].JobID != "sfn:exec-bad-2:extract" ||
		st.LastFailures[1].Reason != "unsupported_media_type" {
		t.Fatalf("after two failed documents: %+v", st)
	}

	goodKey := e.upload(tenant, "good", "text/plain")
	verify := map[string]any{"stage": "verify", "execution": "exec-good", "input": json.RawMessage(statemachine.Input{Bucket: bucket, Key: goodKey}.JSON())}
	if err := e.handle(verify); err != nil {
		t.Fatal(err)
	}
	e.refused("verify")
	var mf sfntask.MarkFailedOutput
	e.run(map[string]any{"stage": "markfailed", "execution": "exec-bad-2", "doc": last, "failure": caught}, &mf)
	if !mf.Recorded || mf.Reason != "unsupported_media_type" {
		t.Errorf("markfailed while the breaker is open: %+v", mf)
	}

	// OpenFor has passed (set in the database rather than waited for).
	c := tenantdbtest.Conn(t, e.db.OwnerURL)
	if _, err := c.Exec(ctx, "UPDATE tenant_breakers SET retry_at = now() - interval '1 second' WHERE tenant_id = $1", tenant); err != nil {
		t.Fatal(err)
	}
	delete(verify, "taskToken")
	var doc map[string]any
	e.run(verify, &doc) // exec-good is the half-open trial
	state := func() breaker.State {
		t.Helper()
		st, err := op.Status(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		return st.State
	}
	// The trial is the whole document: its Verify succeeding proves nothing
	// about the stage that failed, and another execution's task waits.
	if s := state(); s != breaker.HalfOpen {
		t.Fatalf("after the trial's verify: %s, want %s", s, breaker.HalfOpen)
	}
	other := map[string]any{"stage": "verify", "execution": "exec-other",
		"input": json.RawMessage(statemachine.Input{Bucket: bucket, Key: e.upload(tenant, "other", "text/plain")}.JSON())}
	if err := e.handle(other); err != nil {
		t.Fatal(err)
	}
	e.refused("verify")
	var ch sfntask.ChunkOutput
	for _, task := range []map[string]any{{"stage": "extract"}, {"stage": "chunk"}} {
		task["execution"], task["doc"] = "exec-good", doc
		e.run(task, &ch)
	}
	for _, b := range ch.Batches {
		e.run(map[string]any{"stage": "embed", "execution": "exec-good", "doc": doc, "batch": b}, nil)
	}
	e.run(map[string]any{"stage": "store", "execution": "exec-good", "doc": doc}, nil)
	if s := state(); s != breaker.HalfOpen {
		t.Fatalf("before the trial's finalize: %s, want %s", s, breaker.HalfOpen)
	}
	e.run(map[string]any{"stage": "finalize", "execution": "exec-good", "doc": doc}, nil)
	if s := state(); s != breaker.Closed {
		t.Fatalf("after the trial's document was ready: %s, want %s", s, breaker.Closed)
	}
}
