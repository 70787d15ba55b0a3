package harness

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/worker"
)

// Stack is the local stack as the environment describes it
// (deploy/local/stack.sh env).
type Stack struct {
	S3Endpoint, SQSEndpoint string
	AccessKey, SecretKey    string
	S3                      *s3.Client
	SQS                     *sqs.Client
}

// LoadStack reads the stack's environment, or skips the test when it is not
// set (run through make test / make chaos / make bench).
func LoadStack(t testing.TB) *Stack {
	t.Helper()
	s := &Stack{
		S3Endpoint: os.Getenv("TENANTRY_S3_ENDPOINT"), SQSEndpoint: os.Getenv("TENANTRY_SQS_ENDPOINT"),
		AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
	}
	if s.S3Endpoint == "" || s.SQSEndpoint == "" || os.Getenv("TENANTRY_ADMIN_DATABASE_URL") == "" {
		t.Skip("local stack not configured: run via make test, make chaos or make bench")
	}
	s.S3 = s.S3Client(s.S3Endpoint)
	cfg := s.awsConfig()
	s.SQS = sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) })
	return s
}

func (s *Stack) awsConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")}
}

// S3Client returns an S3 client for endpoint (e.g. a fault proxy in front of
// the stack's S3 server), path-style, with the stack's credentials.
func (s *Stack) S3Client(endpoint string) *s3.Client {
	return s3.NewFromConfig(s.awsConfig(), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
}

// Env is one isolated setup: a fresh migrated database, a bucket, a queue
// with its DLQ, and envelope keys the worker trusts (JWKSFile).
type Env struct {
	T        testing.TB
	Stack    *Stack
	DB       *tenantdbtest.Database
	Bucket   string
	QueueURL string
	DLQURL   string
	Kit      *envelopetest.Kit
	JWKSFile string

	seq        atomic.Int64
	prefix     string
	maxReceive int
}

// EnvConfig configures NewEnv.
type EnvConfig struct {
	// Prefix starts the bucket and queue names (default "h-").
	Prefix string
	// MaxReceive is the queue's redrive maxReceiveCount (default 10). Give
	// it at least the worker's TENANTRY_MAX_RECEIVES.
	MaxReceive int
}

// RandName returns prefix followed by 10 random hex digits.
func RandName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// NewEnv creates the setup and removes it when the test ends.
func NewEnv(t testing.TB, cfg EnvConfig) *Env {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = "h-"
	}
	if cfg.MaxReceive == 0 {
		cfg.MaxReceive = 10
	}
	st := LoadStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := &Env{T: t, Stack: st, Bucket: RandName(cfg.Prefix), Kit: envelopetest.New(t), prefix: cfg.Prefix, maxReceive: cfg.MaxReceive}
	e.DB = tenantdbtest.NewDatabase(t)
	if _, err := st.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(e.Bucket)}); err != nil {
		t.Fatalf("harness: create bucket: %v", err)
	}
	t.Cleanup(func() { DeleteBucket(st.S3, e.Bucket) })
	e.FreshQueues(ctx)
	e.JWKSFile = filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(e.JWKSFile, e.Kit.JWKS(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// FreshQueues switches e to a new queue and DLQ (deleted when the test
// ends). A worker process stopped in the middle of a long poll can leave
// the SQS server delivering the next message to its closed connection,
// where it stays invisible for the visibility timeout; a new worker on a
// fresh queue never waits for that.
func (e *Env) FreshQueues(ctx context.Context) {
	e.T.Helper()
	q := RandName(e.prefix)
	queueURL, dlqURL, err := sqssource.EnsureQueues(ctx, e.Stack.SQS, q, q+"-dlq", e.maxReceive)
	if err != nil {
		e.T.Fatalf("harness: queues: %v", err)
	}
	e.QueueURL, e.DLQURL = queueURL, dlqURL
	e.T.Cleanup(func() {
		for _, u := range []string{queueURL, dlqURL} {
			_, _ = e.Stack.SQS.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		}
	})
}

// DeleteBucket empties and deletes a bucket (best effort).
func DeleteBucket(c *s3.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range out.Contents {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		}
	}
	_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
}

// Key is the object key of a tenant's document: {tenant}/{document}/{filename}.
func Key(tenant uuid.UUID, doc, filename string) string {
	return tenant.String() + "/" + doc + "/" + filename
}

// Version is the document version tenantry computes: the content hash.
func Version(body []byte) string {
	s := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Put stores an object with env as its x-amz-meta-tenantry-envelope ("":
// none), as a client uploading through a presigned URL would.
func (e *Env) Put(ctx context.Context, key, contentType string, body []byte, env string) error {
	in := &s3.PutObjectInput{Bucket: aws.String(e.Bucket), Key: aws.String(key), Body: strings.NewReader(string(body)),
		ContentLength: aws.Int64(int64(len(body)))}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	if env != "" {
		in.Metadata = map[string]string{"tenantry-envelope": env}
	}
	if _, err := e.Stack.S3.PutObject(ctx, in); err != nil {
		return fmt.Errorf("harness: put %s: %w", key, err)
	}
	return nil
}

// PutSigned uploads a tenant's document with a valid envelope bound to it and
// returns its key.
func (e *Env) PutSigned(ctx context.Context, tenant uuid.UUID, doc, filename, contentType string, body []byte) (string, error) {
	key := Key(tenant, doc, filename)
	return key, e.Put(ctx, key, contentType, body, e.Kit.Object(e.T, tenant, e.Bucket, key))
}

// Notification is the S3 event notification S3 sends for key (eventName
// e.g. "ObjectCreated:Put"), with an increasing sequencer.
func (e *Env) Notification(eventName, key string) string {
	return e.NotificationFor(e.Bucket, eventName, event.EncodeKey(key))
}

// NotificationFor is Notification with a raw (already encoded) key and any
// bucket: for hostile events.
func (e *Env) NotificationFor(bucket, eventName, rawKey string) string {
	rec := map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": eventName,
		"eventTime": time.Now().UTC().Format(time.RFC3339),
		"s3": map[string]any{"s3SchemaVersion": "1.0", "bucket": map[string]any{"name": bucket},
			"object": map[string]any{"key": rawKey, "size": 1, "sequencer": fmt.Sprintf("%016X", e.seq.Add(1))}},
	}}}
	b, _ := json.Marshal(rec)
	return string(b)
}

// Send sends message bodies to the queue, ten per batch.
func (e *Env) Send(ctx context.Context, bodies ...string) error {
	for len(bodies) > 0 {
		n := min(10, len(bodies))
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(e.QueueURL)}
		for i, b := range bodies[:n] {
			in.Entries = append(in.Entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
		}
		out, err := e.Stack.SQS.SendMessageBatch(ctx, in)
		if err != nil {
			return fmt.Errorf("harness: send: %w", err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("harness: send: %d of %d failed (%s)", len(out.Failed), n, aws.ToString(out.Failed[0].Code))
		}
		bodies = bodies[n:]
	}
	return nil
}

// SendWith sends one message with string attributes.
func (e *Env) SendWith(ctx context.Context, body string, attrs map[string]string) error {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(e.QueueURL), MessageBody: aws.String(body)}
	if len(attrs) > 0 {
		in.MessageAttributes = map[string]sqstypes.MessageAttributeValue{}
		for k, v := range attrs {
			in.MessageAttributes[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	if _, err := e.Stack.SQS.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("harness: send: %w", err)
	}
	return nil
}

// QueueDepth returns the queue's visible and in-flight message counts.
func (e *Env) QueueDepth(ctx context.Context, queueURL string) (visible, inflight int, err error) {
	out, err := e.Stack.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"}})
	if err != nil {
		return 0, 0, err
	}
	v, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	i, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	d, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesDelayed"])
	return v + d, i, nil
}

// DeadLetter is one message found in the DLQ.
type DeadLetter struct {
	ID     string
	Body   string
	Reason string // tenantry-reason ("" when SQS's redrive moved it)
	Stage  string // tenantry-stage
}

// DeadLetters receives DLQ messages until want distinct ones were seen or
// timeout passes, and returns what it saw (want <= 0: until the DLQ answers
// empty). Messages are not deleted, and are received with a short visibility
// timeout and counted once by id: a receive whose answer is lost (an SDK
// retry of a slow call under load) hides its messages only for those 20 s,
// not for the rest of the wait.
func (e *Env) DeadLetters(ctx context.Context, want int, timeout time.Duration) ([]DeadLetter, error) {
	deadline := time.Now().Add(timeout)
	seen := map[string]bool{}
	var out []DeadLetter
	for {
		r, err := e.Stack.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.DLQURL), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, VisibilityTimeout: 20, MessageAttributeNames: []string{"All"}})
		if err != nil {
			return out, err
		}
		for _, m := range r.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id] = true
			d := DeadLetter{ID: id, Body: aws.ToString(m.Body)}
			if a, ok := m.MessageAttributes[worker.AttrReason]; ok {
				d.Reason = aws.ToString(a.StringValue)
			}
			if a, ok := m.MessageAttributes[worker.AttrStage]; ok {
				d.Stage = aws.ToString(a.StringValue)
			}
			out = append(out, d)
		}
		switch {
		case want > 0 && len(out) >= want:
			return out, nil
		case want <= 0 && len(r.Messages) == 0:
			return out, nil
		case time.Now().After(deadline):
			if want > 0 {
				return out, fmt.Errorf("harness: %d of %d DLQ messages after %s", len(out), want, timeout)
			}
			return out, nil
		}
	}
}

// Eventually polls cond every interval until it returns true or timeout
// passes (then it returns an error naming what). cond's error stops it.
func Eventually(ctx context.Context, what string, timeout, interval time.Duration, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("waiting for %s", what), ctx.Err())
		case <-time.After(interval):
		}
	}
}
