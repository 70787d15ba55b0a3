package sqssource_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/sqssource"
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

// sqsClient returns a real SDK client for the local SQS server, or skips the
// test when TENANTRY_SQS_ENDPOINT is unset.
func sqsClient(tb testing.TB) *sqs.Client {
	tb.Helper()
	endpoint := os.Getenv("TENANTRY_SQS_ENDPOINT")
	if endpoint == "" {
		tb.Skip("TENANTRY_SQS_ENDPOINT not set")
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		id, secret = "local", "local"
	}
	return sqs.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""),
	}, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newQueues creates a uniquely named queue and DLQ (redrive after
// maxReceive) and deletes them when the test ends.
func newQueues(tb testing.TB, client *sqs.Client, maxReceive int) (queueURL, dlqURL string) {
	tb.Helper()
	name := randomName("tenantry-test-")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	queueURL, dlqURL, err := sqssource.EnsureQueues(ctx, client, name, name+"-dlq", maxReceive)
	if err != nil {
		tb.Fatalf("EnsureQueues: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, u := range []string{queueURL, dlqURL} {
			if _, err := client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)}); err != nil {
				tb.Errorf("DeleteQueue: %v", err)
			}
		}
	})
	return queueURL, dlqURL
}

// harness is the producer side of a test queue and a reader of its DLQ.
type harness struct {
	client   *sqs.Client
	queueURL string
	dlq      *sqssource.Source
}

func newHarness(tb testing.TB, client *sqs.Client, queueURL, dlqURL string) *harness {
	tb.Helper()
	dlq, err := sqssource.New(sqssource.Config{QueueURL: dlqURL, WaitTime: time.Second}, client, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &harness{client: client, queueURL: queueURL, dlq: dlq}
}

func (h *harness) Send(ctx context.Context, body []byte, attrs map[string]string) error {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(h.queueURL), MessageBody: aws.String(string(body))}
	if len(attrs) > 0 {
		in.MessageAttributes = map[string]types.MessageAttributeValue{}
		for k, v := range attrs {
			in.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	_, err := h.client.SendMessage(ctx, in)
	return err
}

// sendBatch sends n copies of body with SendMessageBatch.
func (h *harness) sendBatch(ctx context.Context, n int, body string) error {
	for i := 0; i < n; i += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for j := i; j < min(n, i+10); j++ {
			entries = append(entries, types.SendMessageBatchRequestEntry{
				Id: aws.String(string(rune('a' + j - i))), MessageBody: aws.String(body),
			})
		}
		out, err := h.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(h.queueURL), Entries: entries})
		if err != nil {
			return err
		}
		if len(out.Failed) > 0 {
			return errors.New("SendMessageBatch: " + aws.ToString(out.Failed[0].Code))
		}
	}
	return nil
}

// DeadLetters reads (and deletes) what is in the DLQ, waiting for at least
// one message until ctx ends.
func (h *harness) DeadLetters(ctx context.Context) ([]*worker.Message, error) {
	var out []*worker.Message
	for len(out) == 0 {
		msgs, err := h.dlq.Receive(ctx, 10)
		if err != nil {
			if ctx.Err() != nil {
				return out, nil
			}
			return out, err
		}
		if len(msgs) > 0 {
			actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := h.dlq.Ack(actx, msgs...)
			cancel()
			if err != nil {
				return out, err
			}
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// queueCounts returns the approximate visible and in-flight counts.
func queueCounts(tb testing.TB, client *sqs.Client, queueURL string) (visible, inFlight int64) {
	tb.Helper()
	src, err := sqssource.New(sqssource.Config{QueueURL: queueURL}, client, nil)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := src.Inspect(context.Background())
	if err != nil {
		tb.Fatalf("Inspect: %v", err)
	}
	return info.Visible, info.InFlight
}
