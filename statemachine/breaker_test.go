package statemachine_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/sfnctl"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/statemachine"
)

// A paused tenant's executions wait in the state machine, not in a worker:
// each task is answered Tenantry.BreakerOpen, which the definition retries
// (never caught into MarkFailed), and nothing is written. Another tenant's
// execution runs meanwhile. An execution resumed within its retries
// succeeds; one whose retries run out fails where it stood, unmarked,
// redrivable after the resume.
func TestPipelineHoldsAPausedTenant(t *testing.T) {
	t.Parallel()
	// Retries 300 ms apart: ten of them outlast the resume below.
	st := newStack(t, stackOptions{breaker: &breaker.Config{}, retryInterval: 300 * time.Millisecond})
	ctx := context.Background()
	op := operator(t, st)
	resumed, stays, other := uuid.New(), uuid.New(), uuid.New()
	for _, tenant := range []uuid.UUID{resumed, stays} {
		if err := op.Pause(ctx, tenant, "alice", "maintenance"); err != nil {
			t.Fatal(err)
		}
	}
	start := func(tenant uuid.UUID) string {
		key := st.uploadSigned(tenant, "handbook", "handbook.md", "text/markdown", handbook)
		out, err := st.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(st.local.StateMachineARN()),
			Name: aws.String("held-" + suffix()), Input: aws.String(statemachine.Input{Bucket: st.bucket, Key: key}.JSON())})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ExecutionArn)
	}
	resumedARN, staysARN, otherARN := start(resumed), start(stays), start(other)

	// The other tenant's execution completes while both are paused.
	if ex := st.local.Wait(t, otherARN, 90*time.Second); ex.Status != "SUCCEEDED" {
		t.Fatalf("the other tenant's execution: %s %s %s", ex.Status, ex.Error, ex.Cause)
	}
	// Once the first task of the resumed tenant was refused, resume it.
	deadline := time.Now().Add(30 * time.Second)
	for !refusedOnce(st, resumedARN) {
		if time.Now().After(deadline) {
			t.Fatalf("no task of the paused tenant was refused; tasks: %+v", st.local.Tasks())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, tenant := range []uuid.UUID{resumed, stays} {
		if n := st.count(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action NOT LIKE 'breaker.%'`, tenant) +
			st.count(`SELECT count(*) FROM documents WHERE tenant_id = $1`, tenant); n != 0 {
			t.Errorf("%d rows written for a paused tenant", n)
		}
	}
	if err := op.Resume(ctx, resumed, "alice", "done"); err != nil {
		t.Fatal(err)
	}
	ex := st.local.Wait(t, resumedARN, 90*time.Second)
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("the resumed tenant's execution: %s %s %s", ex.Status, ex.Error, ex.Cause)
	}
	if len(events(ex, "StateRetried", "Verify")) == 0 || !onlyRefused(st, resumedARN) {
		t.Errorf("Verify was not retried on %s alone: %+v", sfntask.ErrorBreakerOpen, st.local.Tasks())
	}
	if n := st.count(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'ready'`, resumed); n != 1 {
		t.Errorf("%d ready documents after the resume, want 1", n)
	}

	// Still paused: the retries run out and the execution fails at Verify
	// with the breaker's error, never caught into MarkFailed.
	ex = st.local.Wait(t, staysARN, 90*time.Second)
	if ex.Status != "FAILED" || ex.Error != sfntask.ErrorBreakerOpen {
		t.Fatalf("the paused tenant's execution: %s %s, want FAILED %s", ex.Status, ex.Error, sfntask.ErrorBreakerOpen)
	}
	if len(events(ex, "StateRetried", "Verify")) == 0 || !onlyRefused(st, staysARN) || len(events(ex, "StateCaught", "")) != 0 ||
		len(events(ex, "StateExited", "MarkFailed")) != 0 {
		t.Errorf("held execution: retried %d, caught %d, MarkFailed %d", len(events(ex, "StateRetried", "Verify")),
			len(events(ex, "StateCaught", "")), len(events(ex, "StateExited", "MarkFailed")))
	}
	if n := st.count(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action NOT LIKE 'breaker.%'`, stays) +
		st.count(`SELECT count(*) FROM documents WHERE tenant_id = $1`, stays); n != 0 {
		t.Errorf("%d rows written for the paused tenant", n)
	}
}

// onlyRefused reports whether every failed task of the execution was
// answered Tenantry.BreakerOpen at Verify.
func onlyRefused(st *stack, arn string) bool {
	for _, tk := range st.local.Tasks() {
		if tk.Execution == arn && tk.Status == "failed" && (tk.Error != sfntask.ErrorBreakerOpen || tk.State != "Verify") {
			return false
		}
	}
	return true
}

// refusedOnce reports whether a task of the execution was answered
// Tenantry.BreakerOpen.
func refusedOnce(st *stack, arn string) bool {
	for _, tk := range st.local.Tasks() {
		if tk.Execution == arn && tk.Error == sfntask.ErrorBreakerOpen {
			return true
		}
	}
	return false
}

// The Express variant cannot wait long: a paused tenant's task is retried
// briefly, then caught like any failure, recorded in the failure queue and
// passed through MarkFailed, which marks nothing for a held document. After
// the resume, tenantry sfn replay runs it.
func TestExpressHoldsAPausedTenant(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{express: true, breaker: &breaker.Config{}})
	ctx := context.Background()
	op := operator(t, st)
	tenant := uuid.New()
	if err := op.Pause(ctx, tenant, "alice", "maintenance"); err != nil {
		t.Fatal(err)
	}
	key := st.uploadSigned(tenant, "handbook", "handbook.md", "text/markdown", handbook)

	ex := st.run("express-held-"+suffix(), statemachine.Input{Bucket: st.bucket, Key: key})
	if ex.Status != "FAILED" || ex.Error != sfntask.ErrorBreakerOpen {
		t.Fatalf("execution %s %s, want FAILED %s", ex.Status, ex.Error, sfntask.ErrorBreakerOpen)
	}
	if len(events(ex, "StateRetried", "Verify")) == 0 || len(events(ex, "StateExited", "RecordFailure")) != 1 ||
		len(events(ex, "StateExited", "MarkFailed")) != 1 {
		t.Fatalf("the held task was not retried, then recorded: %+v", ex.Events)
	}
	if n := st.count(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action NOT LIKE 'breaker.%'`, tenant) +
		st.count(`SELECT count(*) FROM documents WHERE tenant_id = $1`, tenant); n != 0 {
		t.Errorf("%d rows written for a paused tenant", n)
	}

	if err := op.Resume(ctx, tenant, "alice", "done"); err != nil {
		t.Fatal(err)
	}
	ctl, err := sfnctl.New(sfnctl.Config{StateMachineARN: st.local.StateMachineARN(), ReplayVisibility: time.Minute},
		sfnctl.Deps{SFN: st.sfn, Gate: st.gate(t), SQS: st.sqs})
	if err != nil {
		t.Fatal(err)
	}
	var replayed []sfnctl.Outcome
	sum, err := ctl.Replay(ctx, st.failures, sfnctl.Filter{Tenant: tenant}, func(o sfnctl.Outcome) { replayed = append(replayed, o) })
	if err != nil || sum.Done != 1 || len(replayed) != 1 || replayed[0].Error != sfntask.ErrorBreakerOpen {
		t.Fatalf("replay: %+v %+v, %v", sum, replayed, err)
	}
	if again := st.local.Wait(t, replayed[0].NewExecutionARN, 90*time.Second); again.Status != "SUCCEEDED" {
		t.Fatalf("replayed execution %s: %s %s", again.Status, again.Error, again.Cause)
	}
	if n := st.count(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'ready'`, tenant); n != 1 {
		t.Errorf("ready documents after the replay: %d", n)
	}
}

// operator is the owner's breaker operator (pause, resume) on st's database.
func operator(t *testing.T, st *stack) *breaker.Operator {
	t.Helper()
	raw, err := tenantdb.OpenOperator(context.Background(), st.db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	return breaker.NewOperator(raw, nil, nil)
}
