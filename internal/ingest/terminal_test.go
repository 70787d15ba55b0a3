package ingest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/ingest"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
)

// These tests drive the real handler through a real runner on the local SQS
// server and a per-test PostgreSQL database. Only S3 is an in-memory double
// (the pipeline's fetcher and HeadObject): the terminal paths under test are
// the queue's and the database's.

func sqsClient(t *testing.T) *sqs.Client {
	t.Helper()
	endpoint := os.Getenv("TENANTRY_SQS_ENDPOINT")
	if endpoint == "" {
		t.Skip("TENANTRY_SQS_ENDPOINT not set")
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		id, secret = "local", "local"
	}
	return sqs.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")},
		func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func randHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// s3Head answers HeadObject for any key: a small text object.
type s3Head struct{}

func (s3Head) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(11), ContentType: aws.String("text/plain")}, nil
}

// GetObject: no object besides the documents (no metadata sidecars).
func (s3Head) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, &s3types.NoSuchKey{}
}

type fetcher struct{}

func (fetcher) Fetch(context.Context, pipeline.Document, int64) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("hello world")), nil
}

type extractor struct{}

func (extractor) Extract(context.Context, string, io.Reader, int64) (pipeline.Extracted, error) {
	return pipeline.Extracted{Sections: []pipeline.Section{{Text: "hello world"}}}, nil
}

type chunker struct{}

func (chunker) Chunk(context.Context, pipeline.Extracted) ([]pipeline.Chunk, error) {
	return []pipeline.Chunk{{Ordinal: 0, Text: "hello world", TokenCount: 2, CharStart: 0, CharEnd: 11}}, nil
}

// embedder hangs until its context ends (a handler timeout) on the calls
// whose 1-based number hang says, and succeeds otherwise. With dead set, a
// hanging call ignores its context and waits for dead to close: the process
// handling it is as good as killed.
type embedder struct {
	calls atomic.Int32
	hang  func(call int) bool
	dead  chan struct{}
}

func (e *embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if e.hang(int(e.calls.Add(1))) {
		if e.dead != nil {
			<-e.dead
			return nil, fmt.Errorf("embed: the worker was killed")
		}
		<-ctx.Done()
		return nil, fmt.Errorf("embed: %w", context.Cause(ctx))
	}
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = make([]float32, tenantdbtest.Dims)
		out[i][0] = 1
	}
	return out, nil
}
func (e *embedder) Model() string   { return "test" }
func (e *embedder) Dimensions() int { return tenantdbtest.Dims }

// dropping kills the worker handling the first delivery of a message: no
// heartbeat and no outcome (ack, nack, dead-letter) reaches the queue, so
// the message comes back when its visibility expires, as after a crash.
type dropping struct {
	worker.Source
}

func (d dropping) Extend(ctx context.Context, m *worker.Message, v time.Duration) error {
	if m.ReceiveCount == 1 {
		return nil
	}
	return d.Source.Extend(ctx, m, v)
}

func (d dropping) Ack(ctx context.Context, msgs ...*worker.Message) error {
	var keep []*worker.Message
	for _, m := range msgs {
		if m.ReceiveCount > 1 {
			keep = append(keep, m)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return d.Source.Ack(ctx, keep...)
}

func (d dropping) Nack(ctx context.Context, m *worker.Message, delay time.Duration) error {
	if m.ReceiveCount == 1 {
		return nil
	}
	return d.Source.Nack(ctx, m, delay)
}

func (d dropping) DeadLetter(ctx context.Context, m *worker.Message, info worker.DeadLetterInfo) error {
	if m.ReceiveCount == 1 {
		return nil
	}
	return d.Source.DeadLetter(ctx, m, info)
}

func (d dropping) QueueMaxReceiveCount(ctx context.Context) (int, error) {
	return d.Source.(worker.MaxReceiveCounter).QueueMaxReceiveCount(ctx)
}

type stack struct {
	t        *testing.T
	client   *sqs.Client
	queueURL string
	dlqURL   string
	kit      *envelopetest.Kit
	db       *tenantdbtest.Database
	admin    *pgx.Conn // one connection for every state read (the test's goroutine only)
	handler  *ingest.Handler
	emb      *embedder
	tenant   uuid.UUID
}

// newStack creates a database, a queue whose redrive policy moves a message
// after maxReceive receives, and the handler.
func newStack(t *testing.T, maxReceive int, hang func(call int) bool) *stack {
	t.Helper()
	client := sqsClient(t)
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := "tenantry-terminal-" + randHex()
	q, dlq, err := sqssource.EnsureQueues(ctx, client, name, name+"-dlq", maxReceive)
	if err != nil {
		t.Fatalf("EnsureQueues: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, u := range []string{q, dlq} {
			_, _ = client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		}
	})
	kit := envelopetest.New(t)
	emb := &embedder{hang: hang}
	h, err := ingest.New(ingest.Config{}, ingest.Deps{
		DB: gw, Gate: &binding.Resolver{Verifier: kit.Verifier(t), Objects: objects.New(s3Head{})}, Objects: objects.New(s3Head{}), Store: pgstore.New(gw, nil),
		Processor: &pipeline.Processor{Fetcher: fetcher{}, Extractor: extractor{}, Chunker: chunker{}, Embedder: emb},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &stack{t: t, client: client, queueURL: q, dlqURL: dlq, kit: kit, db: db, admin: tenantdbtest.Conn(t, db.AdminURL),
		handler: h, emb: emb, tenant: uuid.New()}
}

// ingestJob returns a signed ingest job message for document doc.
func (s *stack) ingestJob(doc string) string {
	key := s.tenant.String() + "/" + doc + "/f.txt"
	body := `{"type":"ingest","bucket":"docs","key":"` + key + `"}`
	env := s.kit.Job(s.t, s.tenant, envelope.ActionIngest, envelope.ObjectResource("docs", key), []byte(body))
	return `{"envelope":"` + env + `","job":` + body + `}`
}

func (s *stack) send(body string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.queueURL), MessageBody: aws.String(body)}); err != nil {
		s.t.Fatalf("SendMessage: %v", err)
	}
}

// run runs a runner (handler timeout 300ms, the handler as Finalizer unless
// noFinalizer) until the test ends.
func (s *stack) run(wrap func(worker.Source) worker.Source) {
	s.t.Helper()
	src, err := sqssource.New(sqssource.Config{QueueURL: s.queueURL, DLQURL: s.dlqURL, WaitTime: time.Second,
		VisibilityTimeout: time.Second}, s.client, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	var source worker.Source = src
	if wrap != nil {
		source = wrap(src)
	}
	r, err := worker.New(worker.Config{Source: source, Handler: worker.Chain(s.handler, worker.Timeout(300*time.Millisecond)),
		Finalizer: s.handler, Concurrency: 2, Pollers: 1, VisibilityTimeout: time.Second, MaxReceiveCount: 5,
		BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, DrainTimeout: 5 * time.Second})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.Run(ctx) })
	s.t.Cleanup(func() { cancel(); wg.Wait() })
}

type docState struct {
	status, reason, claimedBy string
	ledger                    string // the ingest ledger row's status
	failedAudits              int
}

func (s *stack) state(doc string) (docState, bool) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var st docState
	err := s.admin.QueryRow(ctx, `SELECT d.status, d.error, d.claimed_by,
			coalesce((SELECT j.status FROM jobs j WHERE j.tenant_id = d.tenant_id AND j.job_key = 'ingest:' || d.document_id || ':' || d.version), ''),
			(SELECT count(*) FROM audit_events a WHERE a.tenant_id = d.tenant_id AND a.action = 'document.failed')
		FROM documents d WHERE d.tenant_id = $1 AND d.document_id = $2`, s.tenant, doc).
		Scan(&st.status, &st.reason, &st.claimedBy, &st.ledger, &st.failedAudits)
	if err != nil {
		return st, false
	}
	return st, true
}

// waitFor polls the document until ok holds or the deadline passes.
func (s *stack) waitFor(doc string, within time.Duration, ok func(docState) bool) docState {
	s.t.Helper()
	deadline := time.Now().Add(within)
	var last docState
	for time.Now().Before(deadline) {
		st, found := s.state(doc)
		if found {
			last = st
			if ok(st) {
				return st
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("document %s: last state %+v; condition not met within %s", doc, last, within)
	return last
}

// deadLetters reads and deletes what the DLQ holds, waiting for at least
// one message until the deadline.
func (s *stack) deadLetters(within time.Duration) []types.Message {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := s.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.dlqURL),
			MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		cancel()
		if err != nil {
			s.t.Fatalf("receive DLQ: %v", err)
		}
		if len(out.Messages) > 0 {
			return out.Messages
		}
	}
	s.t.Fatalf("nothing reached the DLQ within %s", within)
	return nil
}

func attr(m types.Message, name string) string {
	if v, ok := m.MessageAttributes[name]; ok {
		return aws.ToString(v.StringValue)
	}
	return ""
}

// A handler that times out on every delivery, on a queue whose redrive
// policy moves a message after 3 receives (the runner is configured for 5):
// the document must end failed with reason "timeout", audited, and the
// message must be in the DLQ with the runner's reason attached (not moved
// silently by the queue). Before the fix the document stayed `processing`.
// The same message replayed later, with the embedder healthy, makes the
// failed document ready.
func TestTimeoutOnEveryDeliveryEndsFailedThenReplaySucceeds(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	s := newStack(t, 3, func(int) bool { return !healthy.Load() })
	s.run(nil)
	msg := s.ingestJob("d1")
	s.send(msg)

	st := s.waitFor("d1", 30*time.Second, func(st docState) bool { return st.status != "processing" })
	if st.status != "failed" || st.reason != worker.ReasonTimeout || st.ledger != "failed" || st.failedAudits != 1 {
		t.Fatalf("document after repeated timeouts: %+v; want failed, reason timeout, ledger failed, one document.failed audit", st)
	}
	dl := s.deadLetters(30 * time.Second)
	if len(dl) != 1 {
		t.Fatalf("DLQ holds %d messages, want 1", len(dl))
	}
	if got := attr(dl[0], worker.AttrReason); got != worker.ReasonMaxReceives {
		t.Errorf("DLQ reason %q, want %q (the runner's, not a silent redrive)", got, worker.ReasonMaxReceives)
	}
	if got := attr(dl[0], worker.AttrAttempts); got != "2" {
		t.Errorf("DLQ attempts %q, want 2 (one less than the queue's maxReceiveCount 3)", got)
	}
	if !strings.HasPrefix(attr(dl[0], worker.AttrError), worker.ReasonTimeout) {
		t.Errorf("DLQ error %q does not start with the cause %q", attr(dl[0], worker.AttrError), worker.ReasonTimeout)
	}

	// Replay (what `tenantry dlq replay` sends: the same body): failed is
	// terminal for now, not forever.
	healthy.Store(true)
	s.send(aws.ToString(dl[0].Body))
	st = s.waitFor("d1", 30*time.Second, func(st docState) bool { return st.status == "ready" })
	if st.reason != "" || st.ledger != "done" {
		t.Fatalf("document after a successful replay: %+v; want ready, no reason, ledger done", st)
	}
}

// A worker killed while handling a message's first delivery (after its
// claim: no heartbeat, no outcome ever reaches the queue) on a queue that
// moves a message after 2 receives: the second delivery is received by a runner after the last
// allowed attempt, which marks the document the first one claimed failed
// ("max_receives") and dead-letters the message with the reason. Before the
// fix the queue moved the message silently and the row stayed `processing`.
func TestKilledWorkerOnLastAttemptEndsFailed(t *testing.T) {
	t.Parallel()
	s := newStack(t, 2, func(call int) bool { return call == 1 })
	s.emb.dead = make(chan struct{})
	s.run(func(src worker.Source) worker.Source { return dropping{src} })
	t.Cleanup(func() { close(s.emb.dead) }) // runs before the runner is stopped
	s.send(s.ingestJob("d2"))

	st := s.waitFor("d2", 30*time.Second, func(st docState) bool { return st.status != "processing" })
	if st.status != "failed" || st.reason != worker.ReasonMaxReceives || st.ledger != "failed" || st.failedAudits != 1 {
		t.Fatalf("document after a killed last attempt: %+v; want failed, reason max_receives, ledger failed, one audit", st)
	}
	dl := s.deadLetters(30 * time.Second)
	if got := attr(dl[0], worker.AttrReason); got != worker.ReasonMaxReceives {
		t.Errorf("DLQ reason %q, want %q", got, worker.ReasonMaxReceives)
	}
	if got := attr(dl[0], worker.AttrStage); got != "receive" {
		t.Errorf("DLQ stage %q, want receive (not handled again)", got)
	}
}

// A delivery that times out and a retry that succeeds: processing → ready,
// with nothing marked failed on the way.
func TestRetryAfterTimeoutEndsReady(t *testing.T) {
	t.Parallel()
	s := newStack(t, 3, func(call int) bool { return call == 1 })
	s.run(nil)
	s.send(s.ingestJob("d3"))
	st := s.waitFor("d3", 30*time.Second, func(st docState) bool { return st.status == "ready" })
	if st.reason != "" || st.ledger != "done" || st.failedAudits != 0 {
		t.Fatalf("document after a successful retry: %+v; want ready, ledger done, no document.failed audit", st)
	}
	if n := s.emb.calls.Load(); n != 2 {
		t.Errorf("embedder called %d times, want 2 (one timeout, one success)", n)
	}
}
