package statemachine_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/statemachine"
	"github.com/tenantry/tenantry/statemachine/statemachinetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of the AWS clients and the pgx pool.
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	)
}

// The pipeline end to end: every stage runs in the real worker, reached
// through the real SQS task queue; the document is stored with its chunks,
// the audit rows are written, and the intermediate objects are cleaned up.
func TestPipelineHappyPath(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	tenant := uuid.New()
	key := st.uploadSigned(tenant, "handbook", "handbook.md", "text/markdown", handbook)

	ex := st.run("happy-"+suffix(), statemachine.Input{Bucket: st.bucket, Key: key})
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("execution %s: %s %s\n%s", ex.Status, ex.Error, ex.Cause, ex.Stderr)
	}
	var out sfntask.FinalizeOutput
	if err := json.Unmarshal([]byte(ex.Output), &out); err != nil {
		t.Fatalf("output %q: %v", ex.Output, err)
	}
	if out.Status != "ready" || out.DocumentID != "handbook" || out.Chunks < 4 || !strings.HasPrefix(out.Version, "sha256:") {
		t.Fatalf("output %+v", out)
	}
	if n := st.count(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'ready' AND chunk_count = $2`, tenant, out.Chunks); n != 1 {
		t.Errorf("ready documents: %d", n)
	}
	if n := st.count(`SELECT count(*) FROM chunks WHERE tenant_id = $1 AND document_id = 'handbook'`, tenant); n != out.Chunks {
		t.Errorf("chunks stored %d, want %d", n, out.Chunks)
	}
	if n := st.count(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'document.ingested'`, tenant); n != 1 {
		t.Errorf("document.ingested audit rows: %d", n)
	}
	if n := st.intermediates(); n != 0 {
		t.Errorf("%d intermediate objects left after Finalize", n)
	}
	for _, state := range []string{"Verify", "Extract", "Chunk", "EmbedBatch", "Store", "Finalize"} {
		if len(events(ex, "StateExited", state)) == 0 {
			t.Errorf("state %s never completed", state)
		}
	}
	if f := st.local.Calls("SendTaskFailure"); len(f) != 0 {
		t.Errorf("unexpected failures: %+v", f)
	}
	if n := st.count(`SELECT count(*) FROM security_events`); n != 0 {
		t.Errorf("security events: %d", n)
	}
}

// A transient failure is retried by the state machine's own Retry: the
// worker answers Tenantry.Transient, the EmbedBatch state is retried with
// a new task, and the document is stored once.
func TestPipelineRetriesTransientFailure(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	st.embed.failFirst.Store(1)
	tenant := uuid.New()
	key := st.uploadSigned(tenant, "handbook", "handbook.md", "text/markdown", handbook)

	ex := st.run("transient-"+suffix(), statemachine.Input{Bucket: st.bucket, Key: key})
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("execution %s: %s %s", ex.Status, ex.Error, ex.Cause)
	}
	fails := st.local.Calls("SendTaskFailure")
	if len(fails) != 1 || fails[0].Error != sfntask.ErrorTransient || fails[0].State != "EmbedBatch" {
		t.Fatalf("SendTaskFailure calls %+v, want one %s from EmbedBatch", fails, sfntask.ErrorTransient)
	}
	if c, ok := sfntask.ParseCause(fails[0].Cause); !ok || c.Stage != sfntask.StageEmbed {
		t.Errorf("cause %q", fails[0].Cause)
	}
	if len(events(ex, "StateRetried", "EmbedBatch")) != 1 {
		t.Errorf("EmbedBatch was not retried once by the state machine: %+v", events(ex, "StateRetried", ""))
	}
	var out sfntask.FinalizeOutput
	_ = json.Unmarshal([]byte(ex.Output), &out)
	if n := st.count(`SELECT count(*) FROM chunks WHERE tenant_id = $1`, tenant); n != out.Chunks || n == 0 {
		t.Errorf("chunks stored %d, want %d (once)", n, out.Chunks)
	}
	if n := st.count(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action LIKE 'document.%'`, tenant); n != 1 {
		t.Errorf("document audit rows: %d, want 1", n)
	}
}

// A permanent failure is not retried: it is caught into MarkFailed, which
// marks the document failed with the reason code and writes the audit row,
// and the execution fails with the original error.
func TestPipelineCatchesPermanentFailure(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	tenant := uuid.New()
	key := st.uploadSigned(tenant, "setup", "setup.exe", "application/x-msdownload", "MZ\x90\x00 not a document")

	ex := st.run("permanent-"+suffix(), statemachine.Input{Bucket: st.bucket, Key: key})
	if ex.Status != "FAILED" || ex.Error != sfntask.ErrorPermanent {
		t.Fatalf("execution %s %s, want FAILED %s", ex.Status, ex.Error, sfntask.ErrorPermanent)
	}
	c, ok := sfntask.ParseCause(ex.Cause)
	if !ok || c.Reason != "unsupported_media_type" || c.Stage != sfntask.StageExtract {
		t.Errorf("cause %q", ex.Cause)
	}
	if len(events(ex, "StateRetried", "")) != 0 {
		t.Errorf("a permanent failure was retried: %+v", events(ex, "StateRetried", ""))
	}
	if len(events(ex, "StateCaught", "Extract")) != 1 || len(events(ex, "StateExited", "MarkFailed")) != 1 {
		t.Errorf("Extract's failure did not go through MarkFailed: %+v", ex.Events)
	}
	if n := st.count(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND document_id = 'setup' AND status = 'failed' AND error = 'unsupported_media_type'`, tenant); n != 1 {
		t.Errorf("failed document rows: %d", n)
	}
	if n := st.count(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'document.failed'`, tenant); n != 1 {
		t.Errorf("document.failed audit rows: %d", n)
	}
	if n := st.count(`SELECT count(*) FROM chunks WHERE tenant_id = $1`, tenant); n != 0 {
		t.Errorf("chunks: %d", n)
	}
}

// A forged envelope is refused at the first task, whichever way it comes
// (on the object, or in the execution input for a genuine object: the
// input's envelope is never judged, it must be the object's own): a
// security event is recorded and nothing is written to tenant tables.
func TestPipelineRejectsForgedEnvelope(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	victim, attacker := uuid.New(), uuid.New()
	key := func(tenant uuid.UUID, doc string) string { return tenant.String() + "/" + doc + "/notes.md" }
	tests := []struct {
		name   string
		key    string
		onObj  string // envelope in the object's metadata
		input  string // envelope in the execution input
		reason string
	}{
		{
			name: "signed by an untrusted key", key: key(victim, "forged"),
			onObj:  st.kit.SignWith(t, st.kit.Stranger, st.kit.ObjectClaims(victim, st.bucket, key(victim, "forged"))),
			reason: string(envelope.ReasonUnknownKey),
		},
		{
			name: "tampered claims", key: key(victim, "tampered"),
			onObj:  tamper(t, st.kit.Object(t, attacker, st.bucket, key(victim, "tampered")), attacker, victim),
			reason: string(envelope.ReasonBadSignature),
		},
		{
			name: "genuine envelope of another tenant's object", key: key(victim, "borrowed"),
			onObj:  st.kit.Object(t, attacker, st.bucket, key(attacker, "mine")),
			reason: string(envelope.ReasonBindingMismatch),
		},
		{
			name: "forged envelope in the execution input", key: key(victim, "input"),
			onObj:  st.kit.Object(t, victim, st.bucket, key(victim, "input")),
			input:  st.kit.SignWith(t, st.kit.Stranger, st.kit.ObjectClaims(victim, st.bucket, key(victim, "input"))),
			reason: binding.ReasonEnvelopeMismatch,
		},
		{name: "no envelope", key: key(victim, "bare"), reason: "missing_envelope"},
	}
	for _, tc := range tests {
		parts := strings.SplitN(tc.key, "/", 3)
		st.upload(uuid.MustParse(parts[0]), parts[1], parts[2], "text/markdown", handbook, tc.onObj)
		ex := st.run("forged-"+suffix(), statemachine.Input{Bucket: st.bucket, Key: tc.key, Envelope: tc.input})
		if ex.Status != "FAILED" || ex.Error != sfntask.ErrorEnvelopeRejected {
			t.Errorf("%s: execution %s %s, want FAILED %s", tc.name, ex.Status, ex.Error, sfntask.ErrorEnvelopeRejected)
			continue
		}
		if c, ok := sfntask.ParseCause(ex.Cause); !ok || c.Reason != tc.reason || c.Stage != sfntask.StageVerify {
			t.Errorf("%s: cause %q, want reason %s at verify", tc.name, ex.Cause, tc.reason)
		}
		if n := st.count(`SELECT count(*) FROM security_events WHERE reason = $1 AND source = 'sfn' AND resource = $2`,
			tc.reason, "s3://"+st.bucket+"/"+tc.key); n != 1 {
			t.Errorf("%s: security events: %d", tc.name, n)
		}
	}
	for _, c := range st.local.Calls("") {
		if c.State != "" && c.State != "Verify" && c.State != "MarkFailed" {
			t.Errorf("a rejected execution reached %s", c.State)
		}
	}
	for _, table := range []string{"tenants", "documents", "chunks", "jobs", "audit_events", "audit_heads"} {
		if n := st.count(`SELECT count(*) FROM ` + table); n != 0 {
			t.Errorf("%s has %d rows after rejected envelopes", table, n)
		}
	}
	if n := st.intermediates(); n != 0 {
		t.Errorf("%d intermediate objects written for rejected envelopes", n)
	}
}

// tamper swaps the tenant id inside a signed envelope's payload, keeping
// the signature (which then no longer verifies).
func tamper(t *testing.T, token string, from, to uuid.UUID) string {
	t.Helper()
	parts := strings.Split(token, ".")
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	p = []byte(strings.ReplaceAll(string(p), from.String(), to.String()))
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

// The Map fans embedding out over every batch, never more than its
// MaxConcurrency at once.
func TestPipelineMapOverBatches(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{embedBatch: 1})
	st.embed.delay = 150 * time.Millisecond
	tenant := uuid.New()
	key := st.uploadSigned(tenant, "handbook", "handbook.md", "text/markdown", handbook)

	ex := st.run("map-"+suffix(), statemachine.Input{Bucket: st.bucket, Key: key})
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("execution %s: %s %s", ex.Status, ex.Error, ex.Cause)
	}
	var out sfntask.FinalizeOutput
	_ = json.Unmarshal([]byte(ex.Output), &out)
	iterations := len(events(ex, "MapIterationStarted", "EmbedBatches"))
	if iterations != out.Chunks || iterations < 6 {
		t.Errorf("%d Map iterations for %d chunks in batches of 1", iterations, out.Chunks)
	}
	maxConcurrency := mapMaxConcurrency(t, "EmbedBatches")
	if got := st.embed.maxInflight(); got > int32(maxConcurrency) || got < 2 {
		t.Errorf("at most %d embeddings ran at once; want 2..%d (MaxConcurrency)", got, maxConcurrency)
	}
	if n := st.count(`SELECT count(*) FROM chunks WHERE tenant_id = $1`, tenant); n != out.Chunks {
		t.Errorf("chunks stored %d, want %d", n, out.Chunks)
	}
}

// A task that runs longer than HeartbeatSeconds stays alive because the
// worker heartbeats (SendTaskHeartbeat after each visibility extension);
// without heartbeats the same task times out (States.HeartbeatTimeout), is
// retried, and the late answer is refused.
func TestPipelineHeartbeat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		noHeartbeats bool
	}{{"heartbeats keep the task alive", false}, {"silence times the task out", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newStack(t, stackOptions{heartbeat: map[string]time.Duration{"EmbedBatch": time.Second}, noHeartbeats: tc.noHeartbeats})
			st.embed.slowFirst.Store(1)
			st.embed.slow = 3 * time.Second
			tenant := uuid.New()
			key := st.uploadSigned(tenant, "handbook", "handbook.md", "text/markdown", handbook)

			ex := st.run("heartbeat-"+suffix(), statemachine.Input{Bucket: st.bucket, Key: key})
			if ex.Status != "SUCCEEDED" {
				t.Fatalf("execution %s: %s %s", ex.Status, ex.Error, ex.Cause)
			}
			// Every delivery heartbeats once on receipt; only the hook
			// keeps heartbeating while the stage runs.
			beats, deliveries := 0, 0
			for _, c := range st.local.Calls("SendTaskHeartbeat") {
				if c.State == "EmbedBatch" && c.Refused == "" {
					beats++
				}
			}
			for _, tk := range st.local.Tasks() {
				if tk.State == "EmbedBatch" {
					deliveries++
				}
			}
			timeouts := 0
			for _, e := range events(ex, "StateFailed", "EmbedBatch") {
				if e.Error == "States.HeartbeatTimeout" {
					timeouts++
				}
			}
			if !tc.noHeartbeats {
				// The slow task lived 3× HeartbeatSeconds: it needed more
				// than one heartbeat per second of it.
				if beats < deliveries+3 || timeouts != 0 {
					t.Errorf("%d heartbeats for %d deliveries, %d heartbeat timeouts; want >= %d and 0", beats, deliveries, timeouts, deliveries+3)
				}
				return
			}
			if beats != deliveries || timeouts != 1 || len(events(ex, "StateRetried", "EmbedBatch")) != 1 {
				t.Errorf("%d heartbeats for %d deliveries, %d heartbeat timeouts; want one each, 1, then one retry", beats, deliveries, timeouts)
			}
			// The slow first attempt finishes later; its answer is refused.
			deadline := time.Now().Add(15 * time.Second)
			for !refused(st.local.Calls("SendTaskSuccess"), "TaskTimedOut") {
				if time.Now().After(deadline) {
					t.Fatalf("the late answer was never refused: %+v", st.local.Calls("SendTaskSuccess"))
				}
				time.Sleep(50 * time.Millisecond)
			}
			var out sfntask.FinalizeOutput
			_ = json.Unmarshal([]byte(ex.Output), &out)
			if n := st.count(`SELECT count(*) FROM chunks WHERE tenant_id = $1`, tenant); n != out.Chunks {
				t.Errorf("chunks stored %d, want %d (once)", n, out.Chunks)
			}
		})
	}
}

func refused(calls []statemachinetest.Call, code string) bool {
	for _, c := range calls {
		if c.Refused == code {
			return true
		}
	}
	return false
}

// mapMaxConcurrency reads a Map state's MaxConcurrency from the definition.
func mapMaxConcurrency(t *testing.T, state string) int {
	t.Helper()
	var def struct {
		States map[string]struct {
			MaxConcurrency int
		}
	}
	if err := json.Unmarshal(statemachine.Standard(), &def); err != nil {
		t.Fatal(err)
	}
	return def.States[state].MaxConcurrency
}
