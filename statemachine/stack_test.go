package statemachine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/internal/embed/offline"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/statemachine"
	"github.com/tenantry/tenantry/statemachine/statemachinetest"
	"github.com/tenantry/tenantry/worker"
)

// stack is one isolated end-to-end setup: a fresh database, bucket and
// task queue on the local stack, a local Step Functions running the
// definition, and a real worker (sqssource + worker.Runner + sfntask).
type stack struct {
	t       *testing.T
	bucket  string
	queue   string
	s3      *s3.Client
	sqs     *sqs.Client
	sfn     *sfn.Client
	db      *tenantdbtest.Database
	admin   *pgx.Conn
	kit     *envelopetest.Kit
	local   *statemachinetest.Server
	embed   *testEmbedder
	handler *sfntask.Handler
	runner  *worker.Runner
	// failures is the Express variant's failure queue.
	failures string
}

type stackOptions struct {
	heartbeat map[string]time.Duration
	// noHeartbeats runs the worker without the OnHeartbeat hook (Step
	// Functions then never hears from a long task).
	noHeartbeats bool
	embedBatch   int
	// express runs the Express variant: tasks are invoked synchronously
	// (Handler.Invoke) and failures are recorded in a failure queue.
	express bool
	// breaker, if set, puts every task under the tenants' breakers.
	breaker *breaker.Config
	// retryInterval replaces the interpreter's retry waits (default 20ms).
	retryInterval time.Duration
}

func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s not set: run via `make test` (starts the local stack)", name)
	}
	return v
}

func suffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func awsCreds() aws.CredentialsProvider {
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" {
		id, secret = "test", "test"
	}
	return credentials.NewStaticCredentialsProvider(id, secret, "")
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	s3URL, sqsURL := env(t, "TENANTRY_S3_ENDPOINT"), env(t, "TENANTRY_SQS_ENDPOINT")
	env(t, "TENANTRY_NODE")
	ctx := context.Background()
	st := &stack{t: t, kit: envelopetest.New(t), embed: newTestEmbedder(t)}
	st.s3 = s3.New(s3.Options{Region: "us-east-1", Credentials: awsCreds(), BaseEndpoint: aws.String(s3URL), UsePathStyle: true})
	st.sqs = sqs.New(sqs.Options{Region: "us-east-1", Credentials: awsCreds(), BaseEndpoint: aws.String(sqsURL)})

	st.bucket = "sfn-" + suffix()
	if _, err := st.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(st.bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	t.Cleanup(func() { emptyBucket(t, st.s3, st.bucket) })

	name := "sfn-tasks-" + suffix()
	q, dlq, err := sqssource.EnsureQueues(ctx, st.sqs, name, name+"-dlq", 10)
	if err != nil {
		t.Fatalf("queues: %v", err)
	}
	st.queue = q
	t.Cleanup(func() {
		for _, u := range []string{q, dlq} {
			_, _ = st.sqs.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		}
	})

	st.db = tenantdbtest.NewDatabase(t)
	gw := st.db.Open(t)
	st.admin = tenantdbtest.Conn(t, st.db.AdminURL)

	def, vars := statemachine.Standard(), map[string]string{statemachine.TaskQueueURL: q, statemachine.BucketName: st.bucket}
	if o.express {
		fq, _, err := sqssource.EnsureQueues(ctx, st.sqs, "sfn-failures-"+suffix(), "sfn-failures-dlq-"+suffix(), 10)
		if err != nil {
			t.Fatalf("failure queue: %v", err)
		}
		st.failures = fq
		t.Cleanup(func() {
			_, _ = st.sqs.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(fq)})
		})
		def, vars = statemachine.Express(), map[string]string{
			statemachine.TaskFunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:tenantry-task",
			statemachine.FailureQueueURL: fq, statemachine.BucketName: st.bucket,
		}
	}
	def, err = statemachine.Substitute(def, vars)
	if err != nil {
		t.Fatal(err)
	}
	st.local = statemachinetest.Start(t, statemachinetest.Config{Definition: def, SQSEndpoint: sqsURL, Heartbeat: o.heartbeat,
		RetryInterval: o.retryInterval,
		Invoke: func(ctx context.Context, _ string, payload json.RawMessage) (json.RawMessage, string, string) {
			out, f := st.handler.Invoke(ctx, payload)
			if f != nil {
				return nil, f.Name, f.CauseJSON()
			}
			return out, "", ""
		}})
	st.sfn = sfn.New(sfn.Options{Region: "us-east-1", Credentials: awsCreds(), BaseEndpoint: aws.String(st.local.URL())})

	ex, err := extract.New(extract.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ex.Close() })
	ch, err := chunk.New(chunk.Config{MaxTokens: 16, OverlapTokens: chunk.NoOverlap}, nil)
	if err != nil {
		t.Fatal(err)
	}
	batch := o.embedBatch
	if batch == 0 {
		batch = 2
	}
	logger := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	var brk *breaker.Breaker
	if o.breaker != nil {
		if brk, err = breaker.New(*o.breaker, gw, nil, logger); err != nil {
			t.Fatal(err)
		}
	}
	st.handler, err = sfntask.New(sfntask.Config{Limits: pipeline.Limits{EmbedBatch: batch, MaxChunks: 1000}},
		sfntask.Deps{DB: gw, Gate: st.gate(t), Store: pgstore.New(gw, nil), S3: st.s3, SFN: st.sfn,
			Extractor: ex, Chunker: ch, Embedder: st.embed, Logger: logger, Breaker: brk})
	if err != nil {
		t.Fatal(err)
	}
	src, err := sqssource.New(sqssource.Config{QueueURL: q, DLQURL: dlq, WaitTime: time.Second, VisibilityTimeout: 5 * time.Second}, st.sqs, nil)
	if err != nil {
		t.Fatal(err)
	}
	wcfg := worker.Config{Source: src, Handler: st.handler, Name: "sfn-" + t.Name(), Concurrency: 8, VisibilityTimeout: 5 * time.Second,
		HeartbeatInterval: 300 * time.Millisecond, Logger: logger, DrainTimeout: 5 * time.Second}
	if !o.noHeartbeats {
		wcfg.OnHeartbeat = st.handler.OnHeartbeat
	}
	st.runner, err = worker.New(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.runner.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("runner: %v", err)
		}
	})
	return st
}

func emptyBucket(t *testing.T, c *s3.Client, bucket string) {
	ctx := context.Background()
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Logf("list %s: %v", bucket, err)
			return
		}
		for _, o := range page.Contents {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		}
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Logf("delete bucket %s: %v", bucket, err)
	}
}

// upload puts an object with the given envelope in its metadata ("" for
// none) and returns its key.
func (st *stack) upload(tenant uuid.UUID, doc, filename, mediaType, body, env string) string {
	st.t.Helper()
	key := tenant.String() + "/" + doc + "/" + filename
	in := &s3.PutObjectInput{Bucket: aws.String(st.bucket), Key: aws.String(key), Body: bytes.NewReader([]byte(body)),
		ContentType: aws.String(mediaType)}
	if env != "" {
		in.Metadata = map[string]string{objects.EnvelopeMetaKey: env}
	}
	if _, err := st.s3.PutObject(context.Background(), in); err != nil {
		st.t.Fatalf("upload: %v", err)
	}
	return key
}

// uploadSigned uploads with a valid ingest envelope bound to the object, as
// a presigned upload does.
func (st *stack) uploadSigned(tenant uuid.UUID, doc, filename, mediaType, body string) string {
	st.t.Helper()
	key := tenant.String() + "/" + doc + "/" + filename
	return st.upload(tenant, doc, filename, mediaType, body, st.kit.Object(st.t, tenant, st.bucket, key))
}

// run starts an execution with input and waits for it.
func (st *stack) run(name string, input statemachine.Input) statemachinetest.Execution {
	st.t.Helper()
	out, err := st.sfn.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(st.local.StateMachineARN()), Name: aws.String(name), Input: aws.String(input.JSON()),
	})
	if err != nil {
		st.t.Fatalf("start execution: %v", err)
	}
	ex := st.local.Wait(st.t, aws.ToString(out.ExecutionArn), 90*time.Second)
	if ex.Status == "FAILED" && strings.HasPrefix(ex.Error, "Harness.") {
		st.t.Fatalf("harness crashed: %s\n%s", ex.Cause, ex.Stderr)
	}
	return ex
}

func (st *stack) count(sql string, args ...any) int {
	st.t.Helper()
	var n int
	if err := st.admin.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		st.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (st *stack) intermediates() int {
	st.t.Helper()
	out, err := st.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(st.bucket), Prefix: aws.String(sfntask.DefaultIntermediatePrefix)})
	if err != nil {
		st.t.Fatalf("list intermediates: %v", err)
	}
	return len(out.Contents)
}

// events returns the interpreter events of one type for one state.
func events(ex statemachinetest.Execution, typ, state string) []statemachinetest.Event {
	var out []statemachinetest.Event
	for _, e := range ex.Events {
		if e.Type == typ && (state == "" || e.State == state) {
			out = append(out, e)
		}
	}
	return out
}

// testEmbedder wraps the real offline embedder with fault hooks.
type testEmbedder struct {
	inner *offline.Embedder
	// failFirst makes the first n calls fail with a transient error.
	failFirst atomic.Int32
	// slowFirst makes the first n calls take slow longer.
	slowFirst atomic.Int32
	slow      time.Duration
	// delay is added to every call (to make calls overlap).
	delay time.Duration

	calls    atomic.Int32
	inflight atomic.Int32
	mu       sync.Mutex
	maxIn    int32
}

func newTestEmbedder(t *testing.T) *testEmbedder {
	t.Helper()
	inner, err := offline.New(offline.Config{Dims: tenantdbtest.Dims})
	if err != nil {
		t.Fatal(err)
	}
	return &testEmbedder{inner: inner}
}

func (e *testEmbedder) Model() string   { return e.inner.Model() }
func (e *testEmbedder) Dimensions() int { return e.inner.Dimensions() }

func (e *testEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e.calls.Add(1)
	n := e.inflight.Add(1)
	defer e.inflight.Add(-1)
	e.mu.Lock()
	e.maxIn = max(e.maxIn, n)
	e.mu.Unlock()
	if e.failFirst.Add(-1) >= 0 {
		return nil, &pipeline.TransientError{Err: errors.New("embedding provider: 503")}
	}
	d := e.delay
	if e.slowFirst.Add(-1) >= 0 {
		d += e.slow
	}
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return e.inner.Embed(ctx, texts)
}

func (e *testEmbedder) maxInflight() int32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.maxIn
}

const handbook = `# Employee handbook

Our office opens at nine in the morning and closes at six in the evening.
Remote work is allowed two days per week after the first month.

## Equipment

Every employee receives a laptop, a monitor and a headset on the first day.
Lost equipment must be reported to the IT desk within one business day.

## Leave

Annual leave is twenty five days. Sick leave needs a note after three days.
Parental leave follows the local law and is paid in full for sixteen weeks.
`

// gate is the worker's gate on the stack: the kit's keys, the stack's S3
// and its bucket.
func (st *stack) gate(t *testing.T) *binding.Resolver {
	return &binding.Resolver{Verifier: st.kit.Verifier(t), Objects: objects.New(st.s3), Buckets: []string{st.bucket}}
}
