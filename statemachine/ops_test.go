package statemachine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/sfnctl"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/statemachine"
)

// tenantry sfn start, end to end: the object's envelope is verified, the
// execution is named after tenant, document and version, runs, and a second
// start of the same upload is refused by Step Functions itself.
func TestStartNamesExecutionsAfterTheUpload(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	ctl, err := sfnctl.New(sfnctl.Config{StateMachineARN: st.local.StateMachineARN()},
		sfnctl.Deps{SFN: st.sfn, Gate: st.gate(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tenant := uuid.New()
	key := st.uploadSigned(tenant, "handbook", "handbook.md", "text/markdown", handbook)

	started, err := ctl.Start(ctx, sfnctl.StartRequest{Bucket: st.bucket, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if tid, ok := sfnctl.TenantOfExecution(started.Name); !ok || tid != tenant || started.Duplicate {
		t.Fatalf("started %+v", started)
	}
	ex := st.local.Wait(t, started.ExecutionARN, 90*time.Second)
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("execution %s: %s %s", ex.Status, ex.Error, ex.Cause)
	}
	if in, err := statemachine.ParseInput([]byte(ex.Input)); err != nil || in.Envelope == "" {
		t.Errorf("the execution input does not carry the envelope: %+v, %v", in, err)
	}

	again, err := ctl.Start(ctx, sfnctl.StartRequest{Bucket: st.bucket, Key: key})
	if err != nil || !again.Duplicate || again.ExecutionARN != started.ExecutionARN {
		t.Fatalf("second start: %+v, %v", again, err)
	}
	if !refused(st.local.Calls("StartExecution"), "ExecutionAlreadyExists") {
		t.Error("Step Functions did not refuse the duplicate name")
	}

	// An object whose envelope does not verify is never started.
	forged := tenant.String() + "/forged/notes.md"
	st.upload(tenant, "forged", "notes.md", "text/markdown", handbook,
		st.kit.SignWith(t, st.kit.Stranger, st.kit.ObjectClaims(tenant, st.bucket, forged)))
	if _, err := ctl.Start(ctx, sfnctl.StartRequest{Bucket: st.bucket, Key: forged}); err == nil {
		t.Error("started an object with a forged envelope")
	}
	if n := len(st.local.Calls("StartExecution")); n != 2 {
		t.Errorf("%d StartExecution calls, want 2", n)
	}
}

// The Express variant: a failure (here a transient one that outlived the
// retries) is caught, recorded in the failure queue without any worker,
// marked on the document, and replayed by tenantry sfn replay once the
// cause is gone.
func TestExpressFailureIsRecordedAndReplayed(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{express: true})
	st.embed.failFirst.Store(1000)
	tenant := uuid.New()
	key := st.uploadSigned(tenant, "handbook", "handbook.md", "text/markdown", handbook)

	ex := st.run("express-"+suffix(), statemachine.Input{Bucket: st.bucket, Key: key})
	if ex.Status != "FAILED" || ex.Error != sfntask.ErrorTransient {
		t.Fatalf("execution %s %s, want FAILED %s", ex.Status, ex.Error, sfntask.ErrorTransient)
	}
	if len(events(ex, "StateExited", "RecordFailure")) != 1 || len(events(ex, "StateExited", "MarkFailed")) != 1 {
		t.Fatalf("the failure was not recorded and marked: %+v", ex.Events)
	}
	if n := len(events(ex, "StateRetried", "EmbedBatch")); n == 0 {
		t.Error("EmbedBatch was never retried before giving up")
	}
	if n := st.count(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'failed' AND error = 'transient'`, tenant); n != 1 {
		t.Errorf("failed documents: %d", n)
	}

	ctl, err := sfnctl.New(sfnctl.Config{StateMachineARN: st.local.StateMachineARN(), ReplayVisibility: time.Minute},
		sfnctl.Deps{SFN: st.sfn, Gate: st.gate(t), SQS: st.sqs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	other := sfnctl.Filter{Tenant: uuid.New()}
	if sum, err := ctl.Replay(ctx, st.failures, other, nil); err != nil || sum.Scanned != 1 || sum.Selected != 0 {
		t.Fatalf("replay for another tenant: %+v, %v", sum, err)
	}

	st.embed.failFirst.Store(0) // the provider is back
	var replayed []sfnctl.Outcome
	sum, err := ctl.Replay(ctx, st.failures, sfnctl.Filter{Tenant: tenant}, func(o sfnctl.Outcome) { replayed = append(replayed, o) })
	if err != nil || sum.Done != 1 || len(replayed) != 1 || replayed[0].Action != sfnctl.ActionReplayed {
		t.Fatalf("replay: %+v %+v, %v", sum, replayed, err)
	}
	if replayed[0].Error != sfntask.ErrorTransient || !strings.HasPrefix(replayed[0].Name, "express-") {
		t.Errorf("outcome %+v", replayed[0])
	}
	again := st.local.Wait(t, replayed[0].NewExecutionARN, 90*time.Second)
	if again.Status != "SUCCEEDED" {
		t.Fatalf("replayed execution %s: %s %s", again.Status, again.Error, again.Cause)
	}
	if n := st.count(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'ready'`, tenant); n != 1 {
		t.Errorf("ready documents after the replay: %d", n)
	}
	if sum, err := ctl.Replay(ctx, st.failures, sfnctl.Filter{}, nil); err != nil || sum.Scanned != 0 {
		t.Errorf("the replayed record is still queued: %+v, %v", sum, err)
	}
}
