package sfntask_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/statemachine"
	"github.com/tenantry/tenantry/worker"
)

const bucket = "uploads"

type env struct {
	t      *testing.T
	db     *tenantdbtest.Database
	h      *sfntask.Handler
	s3     *memS3
	sfn    *fakeSFN
	kit    *envelopetest.Kit
	gw     *tenantdb.DB
	admin  *pgx.Conn
	embed  *wordEmbedder
	tokens atomic.Int64
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with the tenants' breakers (brk, given the worker's
// gateway; nil: none).
func newEnvWith(t *testing.T, brk func(*tenantdb.DB) *breaker.Breaker) *env {
	t.Helper()
	db := tenantdbtest.NewDatabase(t)
	e := &env{t: t, db: db, s3: newMemS3(), sfn: &fakeSFN{errs: map[string]error{}}, kit: envelopetest.New(t), embed: &wordEmbedder{}}
	e.gw = db.Open(t)
	var b *breaker.Breaker
	if brk != nil {
		b = brk(e.gw)
	}
	e.admin = tenantdbtest.Conn(t, db.AdminURL)
	var err error
	gate := &binding.Resolver{Verifier: e.kit.Verifier(t), Objects: objects.New(e.s3), Buckets: []string{bucket}}
	e.h, err = sfntask.New(sfntask.Config{Limits: pipeline.Limits{EmbedBatch: 2}},
		sfntask.Deps{DB: e.gw, Gate: gate, Store: pgstore.New(e.gw, nil), S3: e.s3, SFN: e.sfn,
			Extractor: lineExtractor{}, Chunker: lineChunker{}, Embedder: e.embed, Breaker: b})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// handle delivers a task message as the queue would and returns the
// worker outcome.
func (e *env) handle(task map[string]any) error {
	e.t.Helper()
	if _, ok := task["taskToken"]; !ok {
		task["taskToken"] = fmt.Sprintf("tok-%d", e.tokens.Add(1))
	}
	if _, ok := task["execution"]; !ok {
		task["execution"] = "exec-1"
	}
	body, err := json.Marshal(task)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.h.Handle(context.Background(), &worker.Message{ID: "m-" + fmt.Sprint(e.tokens.Load()), Body: body})
}

func (e *env) last() sfnCall {
	e.t.Helper()
	a := e.sfn.answers()
	if len(a) == 0 {
		e.t.Fatal("no answer")
	}
	return a[len(a)-1]
}

// run handles a task that must succeed and returns its output.
func (e *env) run(task map[string]any, out any) {
	e.t.Helper()
	if err := e.handle(task); err != nil {
		e.t.Fatalf("%s: outcome %v", task["stage"], err)
	}
	a := e.last()
	if a.op != "SendTaskSuccess" {
		e.t.Fatalf("%s: %s %s %s", task["stage"], a.op, a.errName, a.cause)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(a.output), out); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.admin.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

const text = "first line of the document\nsecond line here\nthird line\nfourth and last line"

// upload stores a signed object and returns its key.
func (e *env) upload(tenant uuid.UUID, doc, mediaType string) string {
	key := tenant.String() + "/" + doc + "/file.txt"
	e.s3.put(bucket, key, mediaType, []byte(text), map[string]string{objects.EnvelopeMetaKey: e.kit.Object(e.t, tenant, bucket, key)})
	return key
}

// verify runs Verify and returns the DocRef later tasks carry.
func (e *env) verify(key string) map[string]any {
	e.t.Helper()
	var doc map[string]any
	e.run(map[string]any{"stage": "verify", "input": json.RawMessage(statemachine.Input{Bucket: bucket, Key: key}.JSON())}, &doc)
	return doc
}

// The stages in order, as the state machine runs them.
func TestStagesEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tenant := uuid.New()
	key := e.upload(tenant, "doc-1", "text/plain")
	doc := e.verify(key)
	if doc["documentId"] != "doc-1" || doc["envelope"] == "" {
		t.Fatalf("verify output %v", doc)
	}
	var ex sfntask.ExtractOutput
	e.run(map[string]any{"stage": "extract", "doc": doc}, &ex)
	if ex.Skip || !strings.HasPrefix(ex.Version, "sha256:") {
		t.Fatalf("extract %+v", ex)
	}
	var ch sfntask.ChunkOutput
	e.run(map[string]any{"stage": "chunk", "doc": doc}, &ch)
	if ch.Chunks != 4 || len(ch.Batches) != 2 {
		t.Fatalf("chunk %+v", ch)
	}
	for _, b := range ch.Batches {
		e.run(map[string]any{"stage": "embed", "doc": doc, "batch": b}, nil)
	}
	var st sfntask.StoreOutput
	e.run(map[string]any{"stage": "store", "doc": doc}, &st)
	if st.Chunks != 4 || st.Duplicate {
		t.Fatalf("store %+v", st)
	}
	var fin sfntask.FinalizeOutput
	e.run(map[string]any{"stage": "finalize", "doc": doc}, &fin)
	if fin.Status != "ready" || fin.Chunks != 4 {
		t.Fatalf("finalize %+v", fin)
	}
	if left := e.s3.keys("intermediate/"); len(left) != 0 {
		t.Errorf("intermediates left: %v", left)
	}
	if n := e.count(`SELECT count(*) FROM chunks WHERE tenant_id = $1`, tenant); n != 4 {
		t.Errorf("chunks %d", n)
	}
}

// A document ingested through Step Functions carries the attributes the SQS
// worker would give it (tags, metadata, sidecar: retrieval.ReadAttributes);
// a bad sidecar fails the extract stage with bad_metadata.
func TestStagesCarryAttributes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tenant := uuid.New()
	key := tenant.String() + "/doc-a/file.txt"
	e.s3.put(bucket, key, "text/plain", []byte(text), map[string]string{objects.EnvelopeMetaKey: e.kit.Object(e.t, tenant, bucket, key),
		"tenantry-attr-team": "finance", "other-tool": "x"})
	e.s3.tag(bucket, key, map[string]string{"tenantry-attr-region": "eu", "lifecycle": "keep"})
	e.s3.put(bucket, key+retrieval.SidecarSuffix, "application/json", []byte(`{"metadataAttributes":{"year":2024}}`), nil)
	doc := e.verify(key)
	e.run(map[string]any{"stage": "extract", "doc": doc}, nil)
	if n := e.count(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND document_id = 'doc-a'
		AND attributes = '{"team":"finance","region":"eu","year":2024}'::jsonb`, tenant); n != 1 {
		t.Fatalf("%d documents carry the attributes, want 1", n)
	}

	bad := tenant.String() + "/doc-b/file.txt"
	e.s3.put(bucket, bad, "text/plain", []byte(text), map[string]string{objects.EnvelopeMetaKey: e.kit.Object(e.t, tenant, bucket, bad)})
	e.s3.put(bucket, bad+retrieval.SidecarSuffix, "application/json", []byte(`{"metadataAttributes":{"a":{"b":1}}}`), nil)
	doc = e.verify(bad)
	if err := e.handle(map[string]any{"stage": "extract", "doc": doc}); err != nil {
		t.Fatalf("outcome %v (answered tasks are acknowledged)", err)
	}
	if a := e.last(); a.op != "SendTaskFailure" || !strings.Contains(a.errName+a.cause, retrieval.ReasonBadMetadata) {
		t.Fatalf("got %s %s %s, want a failure with %s", a.op, a.errName, a.cause, retrieval.ReasonBadMetadata)
	}
}

// Every stage runs twice, as a retried state (or a redelivered task) does:
// the effect happens once.
func TestStagesAreIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tenant := uuid.New()
	doc := e.verify(e.upload(tenant, "doc-1", "text/plain"))
	twice := func(task map[string]any, out any) {
		e.run(task, out)
		e.run(task, out)
	}
	twice(map[string]any{"stage": "extract", "doc": doc}, nil)
	var ch sfntask.ChunkOutput
	twice(map[string]any{"stage": "chunk", "doc": doc}, &ch)
	var emb sfntask.EmbedOutput
	for _, b := range ch.Batches {
		twice(map[string]any{"stage": "embed", "doc": doc, "batch": b}, &emb)
		if !emb.Cached {
			t.Errorf("batch %d embedded again on retry", b)
		}
	}
	var st sfntask.StoreOutput
	twice(map[string]any{"stage": "store", "doc": doc}, &st)
	if !st.Duplicate {
		t.Error("the second store committed again")
	}
	twice(map[string]any{"stage": "finalize", "doc": doc}, nil)
	if n := e.count(`SELECT count(*) FROM chunks WHERE tenant_id = $1`, tenant); n != 4 {
		t.Errorf("chunks %d, want 4", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE tenant_id = $1`, tenant); n != 1 {
		t.Errorf("audit rows %d, want 1", n)
	}

	// MarkFailed twice records one failure.
	other := e.verify(e.upload(tenant, "doc-2", "application/x-unknown"))
	if err := e.handle(map[string]any{"stage": "extract", "doc": other}); err != nil {
		t.Fatal(err)
	}
	f := e.last()
	if f.op != "SendTaskFailure" || f.errName != sfntask.ErrorPermanent {
		t.Fatalf("extract of an unsupported type: %+v", f)
	}
	failure := map[string]string{"Error": f.errName, "Cause": f.cause}
	var mf sfntask.MarkFailedOutput
	twice(map[string]any{"stage": "markfailed", "doc": other, "failure": failure}, &mf)
	if !mf.Recorded || mf.Reason != "unsupported_media_type" {
		t.Errorf("markfailed %+v", mf)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'document.failed'`, tenant); n != 1 {
		t.Errorf("document.failed audit rows %d, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND document_id = 'doc-2' AND status = 'failed' AND error = 'unsupported_media_type'`, tenant); n != 1 {
		t.Errorf("failed rows %d", n)
	}
}

// An attacker who can send to the task queue injects tasks for later
// stages: every task goes through the gate again, which reads the envelope
// from the object; the envelope the task carries must be byte-identical to
// it. A forged or borrowed envelope is refused (envelope_mismatch) before
// any tenant data is touched, and recorded as a security event.
func TestEveryTaskReverifiesTheEnvelope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	victim, attacker := uuid.New(), uuid.New()
	victimKey := e.upload(victim, "doc-1", "text/plain")
	genuine := e.verify(victimKey) // the victim's pipeline is under way
	e.run(map[string]any{"stage": "extract", "doc": genuine}, nil)
	before := len(e.s3.puts)
	attackerKey := e.upload(attacker, "mine", "text/plain")

	forged := func(edit func(d map[string]any)) map[string]any {
		d := map[string]any{}
		for k, v := range genuine {
			d[k] = v
		}
		edit(d)
		return d
	}
	docs := map[string]struct {
		doc    map[string]any
		reason string
	}{
		"envelope signed by an unknown key": {forged(func(d map[string]any) {
			d["envelope"] = e.kit.SignWith(t, e.kit.Stranger, e.kit.ObjectClaims(victim, bucket, victimKey))
		}), binding.ReasonEnvelopeMismatch},
		"attacker's genuine envelope on the victim's key": {forged(func(d map[string]any) {
			d["envelope"] = e.kit.Object(t, attacker, bucket, attackerKey)
		}), binding.ReasonEnvelopeMismatch},
		"victim's envelope on the attacker's key": {forged(func(d map[string]any) {
			d["key"] = attackerKey
		}), binding.ReasonEnvelopeMismatch},
		"victim's envelope with the payload's tenant swapped": {forged(func(d map[string]any) {
			parts := strings.Split(d["envelope"].(string), ".")
			parts[1] = strings.ReplaceAll(parts[1], "x", "y")
			d["envelope"] = strings.Join(parts, ".")
		}), binding.ReasonEnvelopeMismatch},
	}
	stages := []map[string]any{
		{"stage": "extract"}, {"stage": "chunk"}, {"stage": "embed", "batch": 0}, {"stage": "store"}, {"stage": "finalize"},
	}
	for name, tc := range docs {
		for _, st := range stages {
			task := map[string]any{"doc": tc.doc}
			for k, v := range st {
				task[k] = v
			}
			if err := e.handle(task); err != nil {
				t.Fatalf("%s/%s: outcome %v", name, st["stage"], err)
			}
			a := e.last()
			c, _ := sfntask.ParseCause(a.cause)
			if a.op != "SendTaskFailure" || a.errName != sfntask.ErrorEnvelopeRejected || (tc.reason != "" && c.Reason != tc.reason) {
				t.Errorf("%s/%s: %s %s %s", name, st["stage"], a.op, a.errName, a.cause)
			}
		}
		// MarkFailed with a forged envelope writes nothing either.
		var mf sfntask.MarkFailedOutput
		e.run(map[string]any{"stage": "markfailed", "doc": tc.doc, "failure": map[string]string{"Error": sfntask.ErrorPermanent, "Cause": "{}"}}, &mf)
		if mf.Recorded {
			t.Errorf("%s: markfailed recorded a failure", name)
		}
	}
	if n := e.count(`SELECT count(*) FROM security_events WHERE source = 'sfn'`); n != len(docs)*(len(stages)+1) {
		t.Errorf("security events %d, want %d", n, len(docs)*(len(stages)+1))
	}
	if after := len(e.s3.puts); after != before {
		t.Errorf("forged tasks wrote %d intermediate objects", after-before)
	}
	if n := e.count(`SELECT count(*) FROM documents WHERE tenant_id <> $1`, victim); n != 0 {
		t.Errorf("documents of other tenants: %d", n)
	}
	if n := e.count(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND status <> 'processing'`, victim); n != 0 {
		t.Errorf("the victim's document changed state: %d", n)
	}
}

// The execution input's envelope never stands in for the object's: a
// different one (even a genuine envelope of the same tenant, or one that
// would verify against this key) is refused and recorded; an identical one
// is accepted.
func TestVerifyInputEnvelopeMustBeTheObjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tenant := uuid.New()
	key := e.upload(tenant, "doc-1", "text/plain")
	other := e.upload(tenant, "doc-2", "text/plain")
	reissued := e.kit.Object(t, tenant, bucket, key) // genuine, bound to this key, but not the object's
	for _, tc := range []struct {
		name     string
		envelope string
		ok       bool
	}{
		{"the object's own envelope", e.s3.meta(bucket, key)[objects.EnvelopeMetaKey], true},
		{"another object's envelope", e.s3.meta(bucket, other)[objects.EnvelopeMetaKey], false},
		{"a genuine envelope that is not the object's", reissued, false},
	} {
		input := json.RawMessage(statemachine.Input{Bucket: bucket, Key: key, Envelope: tc.envelope}.JSON())
		if err := e.handle(map[string]any{"stage": "verify", "input": input}); err != nil {
			t.Fatalf("%s: outcome %v", tc.name, err)
		}
		a := e.last()
		c, _ := sfntask.ParseCause(a.cause)
		switch {
		case tc.ok && a.op != "SendTaskSuccess":
			t.Errorf("%s: %s %s %s", tc.name, a.op, a.errName, a.cause)
		case !tc.ok && (a.op != "SendTaskFailure" || a.errName != sfntask.ErrorEnvelopeRejected || c.Reason != binding.ReasonEnvelopeMismatch):
			t.Errorf("%s: %s %s %s, want %s/%s", tc.name, a.op, a.errName, a.cause, sfntask.ErrorEnvelopeRejected, binding.ReasonEnvelopeMismatch)
		}
	}
	if n := e.count(`SELECT count(*) FROM security_events WHERE source = 'sfn' AND reason = 'envelope_mismatch'`); n != 2 {
		t.Errorf("security events %d, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM documents`); n != 0 {
		t.Errorf("documents %d, want 0", n)
	}
}

// Answers: a task Step Functions no longer waits for is dropped; an answer
// that could not be delivered redelivers the task; a malformed task is
// answered when it has a token and dead-lettered when it has none.
func TestHandleOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := e.upload(uuid.New(), "doc-1", "text/plain")
	input := json.RawMessage(statemachine.Input{Bucket: bucket, Key: key}.JSON())

	e.sfn.errs["SendTaskSuccess"] = &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")}
	if err := e.handle(map[string]any{"stage": "verify", "input": input}); err != nil {
		t.Errorf("a timed-out task: outcome %v, want ack", err)
	}
	e.sfn.errs["SendTaskSuccess"] = errors.New("connection reset")
	err := e.handle(map[string]any{"stage": "verify", "input": input})
	if err == nil || worker.IsPermanent(err) {
		t.Errorf("an undelivered answer: outcome %v, want a retry", err)
	}
	delete(e.sfn.errs, "SendTaskSuccess")

	body := []byte(`{"stage":"verify"}`)
	if err := e.h.Handle(context.Background(), &worker.Message{ID: "m", Body: body}); !worker.IsPermanent(err) || worker.ReasonOf(err) != sfntask.ReasonMalformedTask {
		t.Errorf("no token: outcome %v, want permanent %s", err, sfntask.ReasonMalformedTask)
	}
	if err := e.handle(map[string]any{"stage": "compile", "taskToken": "tok-x"}); err != nil {
		t.Fatal(err)
	}
	if a := e.last(); a.op != "SendTaskFailure" || a.errName != sfntask.ErrorPermanent || a.token != "tok-x" {
		t.Errorf("unknown stage answered %+v", a)
	}
}

// A rejected envelope that cannot be recorded is not answered: the task is
// redelivered until the security event is written.
func TestUnrecordedRejectionIsRedelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tenant := uuid.New()
	key := tenant.String() + "/doc/file.txt"
	e.s3.put(bucket, key, "text/plain", []byte(text), map[string]string{
		objects.EnvelopeMetaKey: e.kit.SignWith(t, e.kit.Stranger, e.kit.ObjectClaims(tenant, bucket, key)),
	})
	e.gw.Close() // the database is unreachable
	err := e.handle(map[string]any{"stage": "verify", "input": json.RawMessage(statemachine.Input{Bucket: bucket, Key: key}.JSON())})
	if err == nil || worker.IsPermanent(err) {
		t.Errorf("outcome %v, want a retry", err)
	}
	if a := e.sfn.answers(); len(a) != 0 {
		t.Errorf("answered %+v before the security event was recorded", a)
	}
}

// When Step Functions answers a heartbeat with TaskTimedOut, the stage is
// cancelled and the task dropped unanswered.
func TestHeartbeatCancelsAnAbandonedTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	doc := e.verify(e.upload(uuid.New(), "doc-1", "text/plain"))
	e.run(map[string]any{"stage": "extract", "doc": doc}, nil)
	e.run(map[string]any{"stage": "chunk", "doc": doc}, nil)
	answered := len(e.sfn.answers())

	e.embed.block, e.embed.started = true, make(chan struct{})
	body, _ := json.Marshal(map[string]any{"taskToken": "tok-slow", "stage": "embed", "execution": "exec-1", "doc": doc, "batch": 0})
	m := &worker.Message{ID: "slow", Body: body}
	done := make(chan error, 1)
	go func() { done <- e.h.Handle(context.Background(), m) }()
	<-e.embed.started

	if err := e.h.OnHeartbeat(context.Background(), m, nil); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	e.sfn.mu.Lock()
	e.sfn.errs["SendTaskHeartbeat"] = &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")}
	e.sfn.mu.Unlock()
	if err := e.h.OnHeartbeat(context.Background(), m, nil); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("outcome %v, want ack", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stage was not cancelled")
	}
	if a := e.sfn.answers(); len(a) != answered {
		t.Errorf("an abandoned task was answered: %+v", a[answered:])
	}
	beats := 0
	for _, c := range e.sfn.calls {
		if c.op == "SendTaskHeartbeat" && c.token == "tok-slow" {
			beats++
		}
	}
	if beats != 3 { // on receipt, then the two of the test
		t.Errorf("%d heartbeats with the task's token, want 3", beats)
	}
}

// A task whose token timed out while it waited in the queue is dropped on
// receipt, before any work.
func TestStaleTaskIsDroppedOnReceipt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	doc := e.verify(e.upload(uuid.New(), "doc-1", "text/plain"))
	puts := len(e.s3.puts)
	e.sfn.errs["SendTaskHeartbeat"] = &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")}
	if err := e.handle(map[string]any{"stage": "extract", "doc": doc}); err != nil {
		t.Fatalf("outcome %v, want ack", err)
	}
	if len(e.s3.puts) != puts || len(e.sfn.answers()) != 1 {
		t.Errorf("a stale task ran: %d puts, answers %+v", len(e.s3.puts)-puts, e.sfn.answers())
	}
}

// Invoke (the Express variant's synchronous tasks) returns the output or
// the classified failure instead of answering a token.
func TestInvoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := e.upload(uuid.New(), "doc-1", "text/plain")
	payload, _ := json.Marshal(map[string]any{"stage": "verify", "execution": "exec-1", "input": json.RawMessage(statemachine.Input{Bucket: bucket, Key: key}.JSON())})
	out, f := e.h.Invoke(context.Background(), payload)
	if f != nil || !strings.Contains(string(out), `"documentId":"doc-1"`) {
		t.Fatalf("invoke: %s %+v", out, f)
	}
	for _, bad := range []string{
		`{"stage":"verify","execution":"exec-1","taskToken":"tok","input":{}}`, // invocations carry no token
		`{"stage":"verify"}`,
	} {
		if _, f := e.h.Invoke(context.Background(), []byte(bad)); f == nil || f.Name != sfntask.ErrorPermanent {
			t.Errorf("%s: %+v", bad, f)
		}
	}
	if len(e.sfn.answers()) != 0 {
		t.Error("Invoke answered through SendTask*")
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	deps := sfntask.Deps{}
	if _, err := sfntask.New(sfntask.Config{}, deps); !errors.Is(err, sfntask.ErrInvalidConfig) {
		t.Errorf("missing deps: %v", err)
	}
	for _, cfg := range []sfntask.Config{
		{IntermediatePrefix: "no-slash"},
		{IntermediatePrefix: "/abs/"},
		{S3Concurrency: -1},
		{Limits: pipeline.Limits{EmbedBatch: 1, MaxChunks: 20000}},
	} {
		if _, err := sfntask.New(cfg, deps); !errors.Is(err, sfntask.ErrInvalidConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}
