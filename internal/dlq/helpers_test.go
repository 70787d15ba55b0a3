package dlq_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/worker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The SDK's HTTP transport keeps idle keep-alive connections.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

func opCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// sqsClient returns a real SDK client for the local SQS server, or skips.
func sqsClient(tb testing.TB) *sqs.Client {
	tb.Helper()
	endpoint := os.Getenv("TENANTRY_SQS_ENDPOINT")
	if endpoint == "" {
		tb.Skip("TENANTRY_SQS_ENDPOINT not set: run via `make test` (starts the local stack)")
	}
	return sqs.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// fixture is a uniquely named queue and DLQ (deleted at cleanup), the
// worker's SQS source on the queue (which dead-letters like the runner), and
// an envelope kit.
type fixture struct {
	client           *sqs.Client
	queueURL, dlqURL string
	src              *sqssource.Source
	kit              *envelopetest.Kit
	verifier         *envelope.Verifier
	resolver         *dlq.EnvelopeResolver
	tenantA, tenantB uuid.UUID
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	client := sqsClient(tb)
	name := "tenantry-dlqtest-" + randomHex(6)
	ctx := opCtx(tb)
	q, d, err := sqssource.EnsureQueues(ctx, client, name, name+"-dlq", 100)
	if err != nil {
		tb.Fatalf("EnsureQueues: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, u := range []string{q, d} {
			if _, err := client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)}); err != nil {
				tb.Errorf("DeleteQueue: %v", err)
			}
		}
	})
	src, err := sqssource.New(sqssource.Config{QueueURL: q, DLQURL: d, WaitTime: time.Second}, client, nil)
	if err != nil {
		tb.Fatal(err)
	}
	kit := envelopetest.New(tb)
	v := kit.Verifier(tb)
	return &fixture{
		client: client, queueURL: q, dlqURL: d, src: src, kit: kit, verifier: v,
		resolver: &dlq.EnvelopeResolver{Verifier: v},
		tenantA:  uuid.New(), tenantB: uuid.New(),
	}
}

// job returns a job message body for tenant with a valid envelope binding it.
func (f *fixture) job(tb testing.TB, tenant uuid.UUID, doc string) string {
	tb.Helper()
	job := fmt.Sprintf(`{"type":"reindex","document_id":%q}`, doc)
	tok := f.kit.Job(tb, tenant, envelope.ActionReindex, envelope.DocumentResource(doc), []byte(job))
	return jobBody(tok, job)
}

func jobBody(token, job string) string {
	t, _ := json.Marshal(token)
	return `{"envelope":` + string(t) + `,"job":` + job + `}`
}

// deadLetter sends body (with attrs) to the queue, receives it through the
// worker's SQS source and dead-letters it with info, exactly as the runner
// does. It returns the original message id.
func (f *fixture) deadLetter(tb testing.TB, body string, attrs map[string]string, info worker.DeadLetterInfo) string {
	tb.Helper()
	ctx := opCtx(tb)
	in := &sqs.SendMessageInput{QueueUrl: aws.String(f.queueURL), MessageBody: aws.String(body)}
	if len(attrs) > 0 {
		in.MessageAttributes = map[string]types.MessageAttributeValue{}
		for k, v := range attrs {
			in.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	out, err := f.client.SendMessage(ctx, in)
	if err != nil {
		tb.Fatalf("SendMessage: %v", err)
	}
	id := aws.ToString(out.MessageId)
	f.deadLetterByID(tb, id, info)
	return id
}

// deadLetterByID receives the queue until message id shows up and
// dead-letters it (other messages are made visible again).
func (f *fixture) deadLetterByID(tb testing.TB, id string, info worker.DeadLetterInfo) {
	tb.Helper()
	ctx := opCtx(tb)
	for ctx.Err() == nil {
		msgs, err := f.src.Receive(ctx, 10)
		if err != nil {
			tb.Fatalf("Receive: %v", err)
		}
		for _, m := range msgs {
			if m.ID != id {
				if err := f.src.Nack(ctx, m, 0); err != nil {
					tb.Fatalf("Nack: %v", err)
				}
				continue
			}
			if info.Attempts == 0 {
				info.Attempts = m.ReceiveCount
			}
			if err := f.src.DeadLetter(ctx, m, info); err != nil {
				tb.Fatalf("DeadLetter: %v", err)
			}
			return
		}
	}
	tb.Fatalf("message %s never received", id)
}

// received is a message read by peek or drain.
type received struct {
	ID    string
	Body  string
	Attrs map[string]types.MessageAttributeValue
}

func (r received) str(name string) string {
	return aws.ToString(r.Attrs[name].StringValue)
}

// peek reads every message of a queue with a long visibility timeout (so
// each receive brings new ones) and then makes them all visible again.
func peek(tb testing.TB, client *sqs.Client, url string) []received {
	tb.Helper()
	msgs, handles := readAll(tb, client, url)
	ctx := opCtx(tb)
	for _, h := range handles {
		if _, err := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(url), ReceiptHandle: aws.String(h), VisibilityTimeout: 0,
		}); err != nil {
			tb.Fatalf("ChangeMessageVisibility: %v", err)
		}
	}
	return msgs
}

// drain reads and deletes every message of a queue.
func drain(tb testing.TB, client *sqs.Client, url string) []received {
	tb.Helper()
	msgs, handles := readAll(tb, client, url)
	ctx := opCtx(tb)
	for _, h := range handles {
		if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(h)}); err != nil {
			tb.Fatalf("DeleteMessage: %v", err)
		}
	}
	return msgs
}

func readAll(tb testing.TB, client *sqs.Client, url string) ([]received, []string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		out      []received
		handles  []string
		seen     = map[string]bool{}
		deadline time.Time
	)
	for {
		o, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 120, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			tb.Fatalf("ReceiveMessage: %v", err)
		}
		if len(o.Messages) == 0 {
			// An empty receive does not prove the queue empty: a message
			// can still be in flight (a release not yet applied, a receive
			// whose caller went away). Keep receiving until the queue holds
			// only what this call has received, or until the deadline.
			if queueHolds(tb, client, url) <= len(out) {
				return out, handles
			}
			if deadline.IsZero() {
				deadline = time.Now().Add(2 * time.Minute)
			}
			if time.Now().After(deadline) {
				tb.Logf("readAll %s: %d messages still hidden after 2 minutes", url, queueHolds(tb, client, url)-len(out))
				return out, handles
			}
			continue
		}
		for _, m := range o.Messages {
			handles = append(handles, aws.ToString(m.ReceiptHandle))
			if seen[aws.ToString(m.MessageId)] {
				continue
			}
			seen[aws.ToString(m.MessageId)] = true
			out = append(out, received{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Attrs: m.MessageAttributes})
		}
	}
}

// queueHolds returns the queue's visible plus in-flight messages.
func queueHolds(tb testing.TB, client *sqs.Client, url string) int {
	tb.Helper()
	n, err := dlq.ApproximateCount(opCtx(tb), client, url)
	if err != nil || n < 0 {
		tb.Fatalf("queue attributes of %s: %d, %v", url, n, err)
	}
	return n
}

func ids(rs []received) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	slices.Sort(out)
	return out
}

func bodies(rs []received) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Body
	}
	slices.Sort(out)
	return out
}

// auditRows returns tenant's audit events (read in its own scope).
func auditRows(tb testing.TB, db *tenantdb.DB, tenant uuid.UUID) []audit.Event {
	tb.Helper()
	var evs []audit.Event
	err := db.WithTenant(opCtx(tb), tenantdbtest.Scope(tb, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
		return tenantdb.ScanAuditScoped(ctx, tx, func(e audit.Event) error {
			evs = append(evs, e)
			return nil
		})
	})
	if err != nil {
		tb.Fatalf("read audit of %s: %v", tenant, err)
	}
	return evs
}

// newDB returns a fresh migrated database's gateway (worker role) and the
// database (for admin reads), or skips.
func newDB(tb testing.TB) (*tenantdb.DB, *tenantdbtest.Database) {
	tb.Helper()
	d := tenantdbtest.NewDatabase(tb)
	return d.Open(tb), d
}

// sqsClientOrNil returns an SDK client that is never called (config tests).
func sqsClientOrNil() *sqs.Client {
	return sqs.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("x", "x", "")})
}
