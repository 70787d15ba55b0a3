package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/presign"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
)

// env is one isolated end-to-end setup on the local stack: its own database,
// bucket, queue + DLQ and a running worker (service.Run, as `tenantry worker`).
type env struct {
	t        *testing.T
	ctx      context.Context
	db       *tenantdbtest.Database
	gw       *tenantdb.DB
	store    *pgstore.Store
	s3       *s3.Client
	sqs      *sqs.Client
	bucket   string
	queueURL string
	dlqURL   string
	kit      *envelopetest.Kit
	pre      *presign.Presigner
	emb      *flakyEmbedder
	seq      atomic.Int64
	opsAddr  net.Addr
}

type options struct {
	embedFailures int
	wrapSource    func(worker.Source) worker.Source
	breaker       breaker.Config
	// configure, if set, changes the worker's settings and dependencies.
	configure func(*service.Config, *service.Deps)
}

func randName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func awsClients(t *testing.T) (*s3.Client, *sqs.Client) {
	t.Helper()
	s3End, sqsEnd := os.Getenv("TENANTRY_S3_ENDPOINT"), os.Getenv("TENANTRY_SQS_ENDPOINT")
	if s3End == "" || sqsEnd == "" {
		t.Skip("local stack not configured (run via make test)")
	}
	creds := credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")
	cfg := aws.Config{Region: "us-east-1", Credentials: creds}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(s3End); o.UsePathStyle = true })
	sqsc := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(sqsEnd) })
	return s3c, sqsc
}

func newEnv(t *testing.T, opt options) *env {
	t.Helper()
	s3c, sqsc := awsClients(t)
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{t: t, ctx: ctx, s3: s3c, sqs: sqsc, bucket: randName("e2e-"), kit: envelopetest.New(t)}
	e.db = tenantdbtest.NewDatabase(t)
	e.gw = e.db.Open(t)
	e.store = pgstore.New(e.gw, nil)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(e.bucket)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteBucket(s3c, e.bucket) })
	q := randName("e2e-")
	var err error
	if e.queueURL, e.dlqURL, err = sqssource.EnsureQueues(ctx, sqsc, q, q+"-dlq", 10); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, u := range []string{e.queueURL, e.dlqURL} {
			_, _ = sqsc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		}
	})
	if e.pre, err = presign.New(s3.NewPresignClient(s3c), e.kit.NewIssuer(t), presign.Config{Bucket: e.bucket}, nil); err != nil {
		t.Fatal(err)
	}
	e.emb = &flakyEmbedder{failures: int64(opt.embedFailures)}
	ready := make(chan net.Addr, 1)
	cfg := service.Config{
		DatabaseURL: e.db.WorkerURL, DBMaxConns: 4, QueueURL: e.queueURL, DLQURL: e.dlqURL, Buckets: []string{e.bucket},
		Concurrency: 4, Pollers: 1, VisibilityTimeout: 2 * time.Second, WaitTime: time.Second, MaxReceiveCount: 8,
		DrainTimeout: 5 * time.Second, BackoffBase: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond,
		OpsAddr: "127.0.0.1:0", Breaker: opt.breaker, UsageFlush: 100 * time.Millisecond,
	}
	deps := service.Deps{Verifier: e.kit.Verifier(t), S3: s3c, SQS: sqsc, Embedder: e.emb,
		OnListening: func(a net.Addr) { ready <- a }, WrapSource: opt.wrapSource}
	if opt.configure != nil {
		opt.configure(&cfg, &deps)
	}
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, cfg, deps, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker exited with %v", err)
		}
	})
	addr := <-ready
	e.opsAddr = addr
	e.eventually("worker ready", func() bool {
		resp, err := http.Get("http://" + addr.String() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return e
}

func deleteBucket(c *s3.Client, bucket string) {
	ctx := context.Background()
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err == nil {
		for _, o := range out.Contents {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		}
	}
	_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
}

// eventually polls cond until it holds (no fixed sleeps; 30 s deadline).
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// upload PUTs through a presigned URL (as a client would) and delivers the
// S3 notification S3 would send.
func (e *env) upload(tenant uuid.UUID, docID, filename, ctype, body string) string {
	e.t.Helper()
	p, err := e.pre.Presign(e.ctx, presign.Request{TenantID: tenant, DocumentID: docID, Filename: filename, Actor: "user:1", ContentType: ctype})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := presign.Upload(e.ctx, nil, p, strings.NewReader(body), int64(len(body))); err != nil {
		e.t.Fatal(err)
	}
	e.notify("ObjectCreated:Put", p.Key)
	return p.Key
}

func (e *env) notify(name, key string) {
	e.t.Helper()
	e.notifyWith(name, key, nil)
}

// notifyWith delivers the S3 notification with message attributes.
func (e *env) notifyWith(name, key string, attrs map[string]string) {
	e.t.Helper()
	seq := fmt.Sprintf("%016X", e.seq.Add(1))
	rec := map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": name,
		"eventTime": time.Now().UTC().Format(time.RFC3339),
		"s3": map[string]any{"s3SchemaVersion": "1.0", "bucket": map[string]any{"name": e.bucket},
			"object": map[string]any{"key": event.EncodeKey(key), "size": 1, "sequencer": seq}},
	}}}
	b, _ := json.Marshal(rec)
	e.send(string(b), attrs)
}

func (e *env) send(body string, attrs map[string]string) {
	e.t.Helper()
	in := &sqs.SendMessageInput{QueueUrl: aws.String(e.queueURL), MessageBody: aws.String(body)}
	if len(attrs) > 0 {
		in.MessageAttributes = map[string]sqstypesAttr{}
		for k, v := range attrs {
			in.MessageAttributes[k] = stringAttr(v)
		}
	}
	if _, err := e.sqs.SendMessage(e.ctx, in); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) docs(tenant uuid.UUID) []pgstore.DocumentState {
	e.t.Helper()
	d, err := e.store.For(tenantdbtest.Scope(e.t, tenant)).Documents(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) waitStatus(tenant uuid.UUID, docID, status string) pgstore.DocumentState {
	e.t.Helper()
	var got pgstore.DocumentState
	e.eventually(docID+" "+status, func() bool {
		for _, d := range e.docs(tenant) {
			if d.DocumentID == docID && d.Status == status {
				got = d
				return true
			}
		}
		return false
	})
	return got
}

// adminCount counts rows as the superuser (RLS does not apply): the ground truth.
func (e *env) adminCount(sql string, args ...any) int {
	e.t.Helper()
	// Closed at once: callers poll it, and a connection per poll held until
	// the test ends exhausts the server's max_connections.
	c, err := pgx.Connect(e.ctx, e.db.AdminURL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close(context.WithoutCancel(e.ctx))
	var n int
	if err := c.QueryRow(e.ctx, sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) dlqMessages(want int) []string {
	e.t.Helper()
	var reasons []string
	seen := map[string]bool{}
	e.eventually(fmt.Sprintf("%d DLQ messages", want), func() bool {
		out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.dlqURL), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}, VisibilityTimeout: 30})
		if err != nil {
			return false
		}
		for _, m := range out.Messages {
			if !seen[aws.ToString(m.MessageId)] {
				seen[aws.ToString(m.MessageId)] = true
				reasons = append(reasons, aws.ToString(m.MessageAttributes[worker.AttrReason].StringValue))
			}
		}
		return len(reasons) >= want
	})
	return reasons
}

// search is the product's search (internal/retrieval), as the CLI and the
// API run it.
func (e *env) search(tenant uuid.UUID, q string) []retrieval.Hit {
	e.t.Helper()
	v, _ := e.emb.Embed(e.ctx, []string{q})
	s, err := retrieval.New(e.gw, retrieval.Config{})
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := s.Search(e.ctx, tenantdbtest.Scope(e.t, tenant), retrieval.Request{Vector: v[0], K: 5})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Hits
}

// flakyEmbedder is a deterministic bag-of-words embedder that answers the
// first `failures` calls like a throttling provider.
type flakyEmbedder struct {
	failures int64
	calls    atomic.Int64
}

func (f *flakyEmbedder) Model() string   { return "e2e-words" }
func (f *flakyEmbedder) Dimensions() int { return tenantdbtest.Dims }
func (f *flakyEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	if n := f.calls.Add(1); n <= f.failures {
		return nil, &pipeline.TransientError{Err: errors.New("429 too many requests"), RetryAfter: 50 * time.Millisecond}
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, tenantdbtest.Dims)
		for _, w := range strings.FieldsFunc(strings.ToLower(t), func(r rune) bool { return r < 'a' || r > 'z' }) {
			h := fnv.New32a()
			h.Write([]byte(w))
			v[h.Sum32()%uint32(len(v))]++
		}
		v[0] += 0.01
		out[i] = v
	}
	return out, nil
}

func TestUploadBecomesSearchableForItsTenantOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	a, b := uuid.New(), uuid.New()
	e.upload(a, "warranty", "warranty.md", "text/markdown", "# Warranty\n\nThe robot warranty lasts 36 months.\n\n## Claims\n\nOpen a ticket.")
	e.upload(b, "returns", "returns.txt", "text/plain", "Returns are accepted within 14 days. Warranty is 12 months.")
	da := e.waitStatus(a, "warranty", "ready")
	e.waitStatus(b, "returns", "ready")
	if da.Chunks == 0 {
		t.Fatal("ready document without chunks")
	}
	for _, tc := range []struct {
		tenant uuid.UUID
		doc    string
	}{{a, "warranty"}, {b, "returns"}} {
		hits := e.search(tc.tenant, "warranty months")
		if len(hits) == 0 {
			t.Fatalf("tenant %s: no hits", tc.tenant)
		}
		for _, h := range hits {
			if h.DocumentID != tc.doc {
				t.Errorf("tenant %s saw document %s", tc.tenant, h.DocumentID)
			}
		}
	}
	// Every state change has its audit row, in the right tenant's chain.
	if n := e.adminCount("SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'document.ingested'", a); n != 1 {
		t.Errorf("tenant a has %d ingest audit rows, want 1", n)
	}
}

func TestReuploadChangeAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	a := uuid.New()
	key := e.upload(a, "doc", "notes.txt", "text/plain", "first version of the notes")
	first := e.waitStatus(a, "doc", "ready")
	chunks := e.adminCount("SELECT count(*) FROM chunks")

	// Same content again, and the same S3 event delivered twice: no new chunks.
	e.upload(a, "doc", "notes.txt", "text/plain", "first version of the notes")
	e.notify("ObjectCreated:Put", key)
	e.eventually("duplicates handled", func() bool { return e.queueEmpty() })
	if n := e.adminCount("SELECT count(*) FROM chunks"); n != chunks {
		t.Fatalf("chunks %d after re-upload, want %d", n, chunks)
	}
	// Changed content: replaced, old version's chunks gone.
	e.upload(a, "doc", "notes.txt", "text/plain", "second version, entirely different words here")
	e.eventually("new version", func() bool {
		d := e.docs(a)
		return len(d) == 1 && d[0].Status == "ready" && d[0].Version != first.Version
	})
	if n := e.adminCount("SELECT count(*) FROM chunks WHERE version = $1", first.Version); n != 0 {
		t.Fatalf("%d chunks of the old version survived", n)
	}
	// Delete: the object goes, then the removal event removes the document.
	if _, err := e.s3.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	e.notify("ObjectRemoved:Delete", key)
	e.eventually("document deleted", func() bool { return len(e.docs(a)) == 0 })
	if n := e.adminCount("SELECT count(*) FROM chunks"); n != 0 {
		t.Fatalf("%d chunks left after delete", n)
	}
	if n := e.adminCount("SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'document.deleted'", a); n != 1 {
		t.Fatalf("%d delete audit rows, want 1", n)
	}
}

func (e *env) queueEmpty() bool {
	out, err := e.sqs.GetQueueAttributes(e.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(e.queueURL),
		AttributeNames: []sqstypesName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		return false
	}
	return out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
}

// The attacker's side: envelopes the worker must refuse. Each must write
// nothing to tenant tables, record a security event, and dead-letter the
// message with the reason code.
func TestForgedAndMismatchedEnvelopesWriteNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	victim, attacker := uuid.New(), uuid.New()
	put := func(key, env string) {
		_, err := e.s3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key),
			Body: strings.NewReader("secret plans"), ContentType: aws.String("text/plain"),
			Metadata: map[string]string{"tenantry-envelope": env}})
		if err != nil {
			t.Fatal(err)
		}
		e.notify("ObjectCreated:Put", key)
	}
	vkey := victim.String() + "/doc/plans.txt"
	// 1. Signed by a key the worker does not trust.
	put(vkey, e.kit.SignWith(t, e.kit.Stranger, e.kit.ObjectClaims(victim, e.bucket, vkey)))
	// 2. The attacker's valid envelope, stored on an object under the victim's prefix.
	akey := attacker.String() + "/doc/plans.txt"
	put(victim.String()+"/doc2/plans.txt", e.kit.Object(t, attacker, e.bucket, akey))
	// 3. No envelope at all.
	put(victim.String()+"/doc3/plans.txt", "")
	// 4. A job whose body was changed after signing.
	body := `{"type":"purge_tenant"}`
	env := e.kit.Job(t, victim, envelope.ActionPurge, envelope.DocumentResource("x"), []byte(`{"type":"delete","document_id":"x"}`))
	e.send(`{"envelope":"`+env+`","job":`+body+`}`, nil)

	reasons := e.dlqMessages(4)
	want := map[string]bool{"unknown_key": true, "binding_mismatch": true, "missing_envelope": true, "body_hash_mismatch": true}
	for _, r := range reasons {
		if !want[r] {
			t.Errorf("unexpected DLQ reason %q (all: %v)", r, reasons)
		}
		delete(want, r)
	}
	if len(want) != 0 {
		t.Errorf("missing DLQ reasons %v (got %v)", want, reasons)
	}
	for _, table := range []string{"tenants", "documents", "chunks", "jobs", "audit_events"} {
		if n := e.adminCount("SELECT count(*) FROM " + table); n != 0 {
			t.Errorf("%s has %d rows after forged input", table, n)
		}
	}
	if n := e.adminCount("SELECT count(*) FROM security_events"); n != 4 {
		t.Errorf("%d security events, want 4", n)
	}
}

func TestThrottledProviderIsRetriedAndCompletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{embedFailures: 3})
	a := uuid.New()
	e.upload(a, "doc", "a.txt", "text/plain", "throttling should not lose this document")
	d := e.waitStatus(a, "doc", "ready")
	if d.Chunks == 0 || e.emb.calls.Load() < 4 {
		t.Fatalf("doc %+v after %d embed calls", d, e.emb.calls.Load())
	}
	if n := e.adminCount("SELECT count(*) FROM audit_events WHERE action = 'document.ingested'"); n != 1 {
		t.Fatalf("%d ingest audit rows, want 1", n)
	}
}

// ackFailer loses the first delete of every message, as if the worker died
// after the commit and before the SQS delete: SQS redelivers.
type ackFailer struct {
	worker.Source
	mu     sync.Mutex
	failed map[string]bool
	lost   atomic.Int64
}

func (a *ackFailer) Ack(ctx context.Context, ms ...*worker.Message) error {
	var keep []*worker.Message
	a.mu.Lock()
	for _, m := range ms {
		if !a.failed[m.ID] {
			a.failed[m.ID] = true
			a.lost.Add(1)
			continue // never deleted: visible again after the visibility timeout
		}
		keep = append(keep, m)
	}
	a.mu.Unlock()
	if len(keep) == 0 {
		return nil
	}
	return a.Source.Ack(ctx, keep...)
}

func TestCrashBetweenCommitAndDeleteHasOneEffect(t *testing.T) {
	t.Parallel()
	af := &ackFailer{failed: map[string]bool{}}
	e := newEnv(t, options{wrapSource: func(s worker.Source) worker.Source { af.Source = s; return af }})
	a := uuid.New()
	e.upload(a, "doc", "a.txt", "text/plain", "exactly once effect please")
	e.waitStatus(a, "doc", "ready")
	e.eventually("redelivery handled", func() bool { return af.lost.Load() >= 1 && e.queueEmpty() })
	if n := e.adminCount("SELECT count(*) FROM audit_events"); n != 1 {
		t.Fatalf("%d audit rows after redelivery, want 1", n)
	}
	if n := e.adminCount("SELECT count(DISTINCT ordinal) FROM chunks"); n != e.adminCount("SELECT count(*) FROM chunks") {
		t.Fatal("duplicated chunks")
	}
}

// The attacker's side of replays: a captured delete or purge message, sent
// again after the tenant uploaded again (within the envelope's lifetime, so it
// still verifies), is acknowledged and changes nothing: the envelope's jti was
// spent when the job first ran. Without single-use jobs it would delete the
// new upload.
func TestReplayedDeleteAndPurgeChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	a := uuid.New()
	capture := func(act envelope.Action, resource, body string) string {
		return `{"envelope":"` + e.kit.Job(t, a, act, resource, []byte(body)) + `","job":` + body + `}`
	}
	del := capture(envelope.ActionDelete, envelope.DocumentResource("r1"), `{"type":"delete","document_id":"r1"}`)
	purge := capture(envelope.ActionPurge, envelope.DocumentResource("*"), `{"type":"purge_tenant"}`)
	replayed := func(msg string) {
		t.Helper()
		e.send(msg, nil)
		e.eventually("the replay handled", e.queueEmpty)
	}

	e.upload(a, "r1", "a.txt", "text/plain", "the first upload")
	e.waitStatus(a, "r1", "ready")
	e.send(del, nil)
	e.eventually("deleted", func() bool { return len(e.docs(a)) == 0 })
	e.upload(a, "r1", "a.txt", "text/plain", "uploaded again after the delete")
	e.waitStatus(a, "r1", "ready")
	replayed(del)
	if d := e.docs(a); len(d) != 1 || d[0].Status != "ready" {
		t.Fatalf("after the replayed delete: %+v", d)
	}

	e.send(purge, nil)
	e.eventually("purged", func() bool { return len(e.docs(a)) == 0 })
	e.upload(a, "r2", "b.txt", "text/plain", "uploaded after the purge")
	e.waitStatus(a, "r2", "ready")
	replayed(purge)
	replayed(del)
	if d := e.docs(a); len(d) != 1 || d[0].DocumentID != "r2" {
		t.Fatalf("after the replayed purge: %+v", d)
	}
	for action, want := range map[string]int{"document.deleted": 1, "tenant.purged": 1} {
		if n := e.adminCount("SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = $2", a, action); n != want {
			t.Fatalf("%d %s audit rows, want %d", n, action, want)
		}
	}
	if n := len(e.dlqMessages(0)); n != 0 {
		t.Fatalf("%d messages dead-lettered, want none (a replay is acknowledged)", n)
	}
}

func TestSignedJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	a := uuid.New()
	job := func(act envelope.Action, resource, body string) {
		e.send(`{"envelope":"`+e.kit.Job(t, a, act, resource, []byte(body))+`","job":`+body+`}`, nil)
	}
	// Ingest job for an object uploaded without an event.
	key := a.String() + "/jobdoc/report.md"
	if _, err := e.s3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key),
		Body: bytes.NewReader([]byte("# Report\n\nQuarterly revenue grew.")), ContentType: aws.String("text/markdown")}); err != nil {
		t.Fatal(err)
	}
	job(envelope.ActionIngest, envelope.ObjectResource(e.bucket, key), fmt.Sprintf(`{"type":"ingest","bucket":%q,"key":%q}`, e.bucket, key))
	e.waitStatus(a, "jobdoc", "ready")
	// Reindex: chunks replaced, audit says so.
	job(envelope.ActionReindex, envelope.DocumentResource("jobdoc"), `{"type":"reindex","document_id":"jobdoc"}`)
	e.eventually("reindexed", func() bool {
		return e.adminCount("SELECT count(*) FROM audit_events WHERE action = 'document.reindexed'") == 1
	})
	// Delete by job.
	job(envelope.ActionDelete, envelope.DocumentResource("jobdoc"), `{"type":"delete","document_id":"jobdoc"}`)
	e.eventually("deleted", func() bool { return len(e.docs(a)) == 0 })
	// Envelope in the message attribute, job in the body.
	e.upload(a, "d2", "x.txt", "text/plain", "another document")
	e.waitStatus(a, "d2", "ready")
	body := `{"type":"purge_tenant"}`
	e.send(body, map[string]string{event.AttrEnvelope: e.kit.Job(t, a, envelope.ActionPurge, envelope.DocumentResource("*"), []byte(body))})
	e.eventually("purged", func() bool { return len(e.docs(a)) == 0 })
	if n := e.adminCount("SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'tenant.purged'", a); n != 1 {
		t.Fatalf("%d purge audit rows", n)
	}
}

// The reindex half of issue 12's probe: a server that resolves dot segments
// let an upload to "A/../B/..." replace B's object. B's reindex must not
// store those bytes as B's content: a reindex is pinned to the version an
// envelope authorised, and is refused (source_changed) when the object's
// bytes changed; B's document and chunks stay as they were.
func TestReindexRefusesAnObjectWrittenOverSince(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := uuid.New()
	key := e.upload(b, "plans", "plans.txt", "text/plain", "the victim's own quarterly plans")
	before := e.waitStatus(b, "plans", "ready")
	// What the planted upload leaves at B's key.
	if _, err := e.s3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key),
		Body: bytes.NewReader([]byte("text planted by another tenant")), ContentType: aws.String("text/plain")}); err != nil {
		t.Fatal(err)
	}
	body := `{"type":"reindex","document_id":"plans"}`
	e.send(`{"envelope":"`+e.kit.Job(t, b, envelope.ActionReindex, envelope.DocumentResource("plans"), []byte(body))+`","job":`+body+`}`, nil)
	if reasons := e.dlqMessages(1); len(reasons) != 1 || reasons[0] != "source_changed" {
		t.Fatalf("DLQ reasons %q, want [source_changed]", reasons)
	}
	after := e.docs(b)
	if len(after) != 1 || after[0].Status != "ready" || after[0].Version != before.Version {
		t.Fatalf("document after the refused reindex: %+v (before %+v)", after, before)
	}
	if n := e.adminCount("SELECT count(*) FROM chunks WHERE tenant_id = $1 AND text LIKE '%planted%'", b); n != 0 {
		t.Fatalf("%d chunks of the planted text stored as the tenant's", n)
	}
	if n := e.adminCount("SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'document.reindexed'", b); n != 0 {
		t.Fatalf("%d reindex audit rows for a refused reindex", n)
	}
}

// A document's Bedrock-shaped <file>.metadata.json sidecar, uploaded beside
// it, is read with the document through the real worker and S3 server and
// stored as its attributes; a sidecar changed or removed later changes the
// document's attributes, with an audit row each (never ingesting or
// deleting anything itself).
func TestSidecarAttributesThroughTheWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	a := uuid.New()
	sidecar := a.String() + "/report/q3.txt" + retrieval.SidecarSuffix
	putSidecar := func(body string) {
		t.Helper()
		if _, err := e.s3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(sidecar),
			Body: bytes.NewReader([]byte(body)), ContentType: aws.String("application/json")}); err != nil {
			t.Fatal(err)
		}
	}
	putSidecar(`{"metadataAttributes":{"team":"finance","year":2024}}`)
	e.notify("ObjectCreated:Put", sidecar)
	e.upload(a, "report", "q3.txt", "text/plain", "third quarter revenue grew")
	e.waitStatus(a, "report", "ready")
	if n := e.adminCount(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND document_id = 'report'
		AND attributes->>'team' = 'finance' AND (attributes->>'year')::int = 2024`, a); n != 1 {
		t.Fatalf("%d documents carry the sidecar's attributes, want 1", n)
	}
	putSidecar(`{"metadataAttributes":{"team":"legal","year":2025}}`)
	e.notify("ObjectCreated:Put", sidecar)
	e.eventually("the changed sidecar's attributes", func() bool {
		return e.adminCount(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND document_id = 'report' AND status = 'ready'
			AND attributes = '{"team":"legal","year":2025}'::jsonb`, a) == 1
	})
	if _, err := e.s3.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(sidecar)}); err != nil {
		t.Fatal(err)
	}
	e.notify("ObjectRemoved:Delete", sidecar)
	e.eventually("the removed sidecar's attributes gone", func() bool {
		return e.adminCount(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND document_id = 'report' AND attributes = '{}'::jsonb`, a) == 1
	})
	e.eventually("the sidecar's events handled", e.queueEmpty)
	if d := e.docs(a); len(d) != 1 || d[0].Status != "ready" {
		t.Fatalf("after the sidecar's removal: %+v (a sidecar event must not delete its document)", d)
	}
	if n := e.adminCount(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'document.attributes_updated'`, a); n != 2 {
		t.Fatalf("%d attribute audit rows, want 2", n)
	}
	if n := len(e.dlqMessages(0)); n != 0 {
		t.Fatalf("%d messages dead-lettered", n)
	}
}

// Each tenant's provider usage is recorded through the worker's real path
// (gate, dispatcher, budget, batched flush) and shows in the console's
// read-only view for that tenant only: the provider's 429s to tenant a are
// a's, none are b's.
func TestProviderUsageIsRecordedPerTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{embedFailures: 2})
	a, b := uuid.New(), uuid.New()
	e.upload(a, "doc", "a.txt", "text/plain", "the provider throttles this tenant twice before it answers")
	e.waitStatus(a, "doc", "ready")
	e.upload(b, "doc", "b.txt", "text/plain", "this tenant's calls all go through at once")
	e.waitStatus(b, "doc", "ready")
	reader, err := tenantdb.OpenConsoleReader(e.ctx, e.db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var use map[uuid.UUID]tenantdb.ProviderUsage
	e.eventually("usage of both tenants flushed", func() bool {
		if use, err = reader.ProviderUsage(e.ctx, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		return use[a].Requests >= 3 && use[b].Requests >= 1
	})
	if ua, ub := use[a], use[b]; ua.Throttled != 2 || ub.Throttled != 0 || ua.Tokens == 0 || ub.Tokens == 0 {
		t.Fatalf("usage a %+v, b %+v: want a's two 429s on a only, tokens for both", ua, ub)
	}
	if len(use) != 2 {
		t.Fatalf("usage of %d tenants, want 2", len(use))
	}
}
