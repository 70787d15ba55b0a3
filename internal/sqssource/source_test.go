package sqssource_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/worker"
)

// fakeAPI records calls and answers from its fields.
type fakeAPI struct {
	mu       sync.Mutex
	calls    []string
	receive  []*sqs.ReceiveMessageInput
	deletes  []*sqs.DeleteMessageBatchInput
	changes  []*sqs.ChangeMessageVisibilityInput
	batches  []*sqs.ChangeMessageVisibilityBatchInput
	sends    []*sqs.SendMessageInput
	messages []types.Message
	// errors by operation name
	errs      map[string]error
	delFailed []types.BatchResultErrorEntry
	// visFailed answers ChangeMessageVisibilityBatch: these entries fail,
	// the others succeed.
	visFailed []types.BatchResultErrorEntry
}

func (f *fakeAPI) record(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
	return f.errs[op]
}

func (f *fakeAPI) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	err := f.record("ReceiveMessage")
	f.mu.Lock()
	f.receive = append(f.receive, in)
	msgs := f.messages
	f.messages = nil
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return &sqs.ReceiveMessageOutput{Messages: msgs}, nil
}

func (f *fakeAPI) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	err := f.record("DeleteMessageBatch")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, in)
	if err != nil {
		return nil, err
	}
	return &sqs.DeleteMessageBatchOutput{Failed: f.delFailed}, nil
}

func (f *fakeAPI) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	err := f.record("ChangeMessageVisibility")
	f.mu.Lock()
	f.changes = append(f.changes, in)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (f *fakeAPI) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	err := f.record("ChangeMessageVisibilityBatch")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, in)
	if err != nil {
		return nil, err
	}
	out := &sqs.ChangeMessageVisibilityBatchOutput{Failed: f.visFailed}
	for _, e := range in.Entries {
		if !slices.ContainsFunc(f.visFailed, func(x types.BatchResultErrorEntry) bool { return aws.ToString(x.Id) == aws.ToString(e.Id) }) {
			out.Successful = append(out.Successful, types.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
		}
	}
	return out, nil
}

func (f *fakeAPI) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	err := f.record("SendMessage")
	f.mu.Lock()
	f.sends = append(f.sends, in)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &sqs.SendMessageOutput{MessageId: aws.String("dlq-1")}, nil
}

func (f *fakeAPI) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	if err := f.record("GetQueueAttributes"); err != nil {
		return nil, err
	}
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{
		"QueueArn":                              "arn:aws:sqs:us-east-1:000000000000:" + aws.ToString(in.QueueUrl)[strings.LastIndex(aws.ToString(in.QueueUrl), "/")+1:],
		"ApproximateNumberOfMessages":           "3",
		"ApproximateNumberOfMessagesNotVisible": "2",
		"ApproximateNumberOfMessagesDelayed":    "1",
		"RedrivePolicy":                         `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:q-dlq","maxReceiveCount":"5"}`,
	}}, nil
}

func (f *fakeAPI) CreateQueue(_ context.Context, in *sqs.CreateQueueInput, _ ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	if err := f.record("CreateQueue"); err != nil {
		return nil, err
	}
	return &sqs.CreateQueueOutput{QueueUrl: aws.String("https://sqs.local/000000000000/" + aws.ToString(in.QueueName))}, nil
}

func (f *fakeAPI) SetQueueAttributes(_ context.Context, in *sqs.SetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error) {
	if err := f.record("SetQueueAttributes"); err != nil {
		return nil, err
	}
	return &sqs.SetQueueAttributesOutput{}, nil
}

const (
	queueURL = "https://sqs.us-east-1.amazonaws.com/000000000000/q"
	dlqURL   = "https://sqs.us-east-1.amazonaws.com/000000000000/q-dlq"
)

func newSource(t *testing.T, api *fakeAPI, mutate func(*sqssource.Config)) *sqssource.Source {
	t.Helper()
	cfg := sqssource.Config{QueueURL: queueURL, DLQURL: dlqURL}
	if mutate != nil {
		mutate(&cfg)
	}
	src, err := sqssource.New(cfg, api, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return src
}

func sqsMessage(id string, attrs map[string]types.MessageAttributeValue) types.Message {
	return types.Message{
		MessageId:     aws.String(id),
		ReceiptHandle: aws.String("rh-" + id),
		Body:          aws.String("body-" + id),
		Attributes: map[string]string{
			"ApproximateReceiveCount":          "2",
			"SentTimestamp":                    "1767225600000",
			"ApproximateFirstReceiveTimestamp": "1767225601000",
		},
		MessageAttributes: attrs,
	}
}

func str(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

func TestReceiveRequestAndConversion(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{messages: []types.Message{
		sqsMessage("a", map[string]types.MessageAttributeValue{
			"tenantry-envelope": str("x.y.z"),
			"n":                 {DataType: aws.String("Number"), StringValue: aws.String("42")},
			"custom":            {DataType: aws.String("String.json"), StringValue: aws.String("{}")},
			"bin":               {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1}},
		}),
		{MessageId: aws.String("broken"), Body: aws.String("no handle")},
	}}
	src := newSource(t, api, func(c *sqssource.Config) { c.VisibilityTimeout = 90 * time.Second })
	msgs, err := src.Receive(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	in := api.receive[0]
	if aws.ToString(in.QueueUrl) != queueURL || in.MaxNumberOfMessages != 7 || in.WaitTimeSeconds != 20 || in.VisibilityTimeout != 90 {
		t.Errorf("request = %+v", in)
	}
	if !slices.Equal(in.MessageAttributeNames, []string{"All"}) {
		t.Errorf("MessageAttributeNames = %v", in.MessageAttributeNames)
	}
	for _, want := range []types.MessageSystemAttributeName{"ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp"} {
		if !slices.Contains(in.MessageSystemAttributeNames, want) {
			t.Errorf("system attribute %s not requested", want)
		}
	}
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want the malformed entry dropped", len(msgs))
	}
	m := msgs[0]
	if m.ID != "a" || m.Handle != "rh-a" || string(m.Body) != "body-a" || m.ReceiveCount != 2 {
		t.Errorf("message = %+v", m)
	}
	if !m.SentAt.Equal(time.UnixMilli(1767225600000)) || !m.FirstReceivedAt.Equal(time.UnixMilli(1767225601000)) || m.ReceivedAt.IsZero() {
		t.Errorf("times: sent %v first %v received %v", m.SentAt, m.FirstReceivedAt, m.ReceivedAt)
	}
	want := map[string]string{"tenantry-envelope": "x.y.z", "n": "42", "custom": "{}"}
	if fmt.Sprint(m.Attributes) != fmt.Sprint(want) {
		t.Errorf("Attributes = %v, want %v (binary left out)", m.Attributes, want)
	}
}

func TestReceiveWaitFollowsDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration
		want    int32
	}{
		{"no deadline", 0, 5},
		{"far deadline", time.Minute, 5},
		{"near deadline", 3200 * time.Millisecond, 2},
		{"too near for a long poll", 700 * time.Millisecond, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := &fakeAPI{}
			src := newSource(t, api, func(c *sqssource.Config) { c.WaitTime = 5 * time.Second })
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			if _, err := src.Receive(ctx, 10); err != nil {
				t.Fatal(err)
			}
			if got := api.receive[0].WaitTimeSeconds; got != tc.want {
				t.Errorf("WaitTimeSeconds = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestReceiveErrors(t *testing.T) {
	t.Parallel()
	src := newSource(t, &fakeAPI{}, nil)
	for _, n := range []int{0, 11, -1} {
		if _, err := src.Receive(context.Background(), n); err == nil {
			t.Errorf("Receive(max=%d) accepted", n)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Receive(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	boom := errors.New("boom")
	src = newSource(t, &fakeAPI{errs: map[string]error{"ReceiveMessage": boom}}, nil)
	if _, err := src.Receive(context.Background(), 1); !errors.Is(err, boom) {
		t.Errorf("error not wrapped: %v", err)
	}
}

func msgs(n int) []*worker.Message {
	out := make([]*worker.Message, n)
	for i := range out {
		out[i] = &worker.Message{ID: fmt.Sprint("m", i), Handle: fmt.Sprint("rh", i)}
	}
	return out
}

func TestAckBatches(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{}
	src := newSource(t, api, nil)
	if err := src.Ack(context.Background(), msgs(23)...); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, d := range api.deletes {
		sizes = append(sizes, len(d.Entries))
		if aws.ToString(d.QueueUrl) != queueURL {
			t.Errorf("deleted from %s", aws.ToString(d.QueueUrl))
		}
	}
	if fmt.Sprint(sizes) != "[10 10 3]" {
		t.Errorf("batch sizes = %v", sizes)
	}
	if err := src.Ack(context.Background()); err != nil || len(api.deletes) != 3 {
		t.Errorf("empty Ack: %v, %d calls", err, len(api.deletes))
	}
}

func TestAckPartialFailure(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{delFailed: []types.BatchResultErrorEntry{
		{Id: aws.String("1"), Code: aws.String("ReceiptHandleIsInvalid")}, // stale: skipped
		{Id: aws.String("2"), Code: aws.String("InternalError")},
	}}
	src := newSource(t, api, nil)
	err := src.Ack(context.Background(), msgs(3)...)
	if err == nil || !strings.Contains(err.Error(), "m2:InternalError") || strings.Contains(err.Error(), "m1") {
		t.Errorf("Ack = %v", err)
	}
	api = &fakeAPI{errs: map[string]error{"DeleteMessageBatch": errors.New("throttled")}}
	if err := newSource(t, api, nil).Ack(context.Background(), msgs(12)...); err == nil || len(api.deletes) != 2 {
		t.Errorf("Ack with failing calls = %v after %d calls (both batches must be tried)", err, len(api.deletes))
	}
}

func TestVisibilitySeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want int32
	}{
		{0, 0}, {-time.Second, 0}, {time.Millisecond, 1}, {1500 * time.Millisecond, 2},
		{30 * time.Second, 30}, {13 * time.Hour, 43200},
	}
	for _, tc := range tests {
		api := &fakeAPI{}
		src := newSource(t, api, nil)
		m := &worker.Message{ID: "m", Handle: "rh"}
		if err := src.Nack(context.Background(), m, tc.d); err != nil {
			t.Fatal(err)
		}
		if err := src.Extend(context.Background(), m, tc.d); err != nil {
			t.Fatal(err)
		}
		for _, c := range api.changes {
			if c.VisibilityTimeout != tc.want || aws.ToString(c.ReceiptHandle) != "rh" {
				t.Errorf("%s: VisibilityTimeout = %d, want %d", tc.d, c.VisibilityTimeout, tc.want)
			}
		}
	}
}

func TestNotInFlightClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"typed MessageNotInflight", &types.MessageNotInflight{}, true},
		{"typed ReceiptHandleIsInvalid", &types.ReceiptHandleIsInvalid{}, true},
		{"generic MessageNotInflight", &smithy.GenericAPIError{Code: "MessageNotInflight"}, true},
		{"query-style code", &smithy.GenericAPIError{Code: "AWS.SimpleQueueService.MessageNotInflight"}, true},
		{"expired receipt handle", &smithy.GenericAPIError{Code: "InvalidParameterValue",
			Message: "Value rh for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."}, true},
		{"other invalid parameter", &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "VisibilityTimeout too large"}, false},
		{"throttling", &smithy.GenericAPIError{Code: "ThrottlingException"}, false},
		{"network", errors.New("connection reset"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := &fakeAPI{errs: map[string]error{"ChangeMessageVisibility": tc.err}}
			err := newSource(t, api, nil).Extend(context.Background(), &worker.Message{ID: "m", Handle: "rh"}, time.Second)
			if got := errors.Is(err, worker.ErrNotInFlight); got != tc.want {
				t.Errorf("errors.Is(%v, ErrNotInFlight) = %v, want %v", err, got, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("the SQS error must stay in the chain: %v", err)
			}
		})
	}
}

func TestExtendBatchAnswersEachMessage(t *testing.T) {
	t.Parallel()
	entry := func(id, code, msg string) types.BatchResultErrorEntry {
		return types.BatchResultErrorEntry{Id: aws.String(id), Code: aws.String(code), Message: aws.String(msg)}
	}
	tests := []struct {
		name    string
		failed  []types.BatchResultErrorEntry
		callErr error
		want    []string // per message: "" ok, "gone" ErrNotInFlight, "err" another error
	}{
		{"all extended", nil, nil, []string{"", "", ""}},
		{"one deleted, one throttled", []types.BatchResultErrorEntry{
			entry("1", "ReceiptHandleIsInvalid", "gone"), entry("2", "InternalError", "try again")}, nil, []string{"", "gone", "err"}},
		{"expired handle reported as a parameter", []types.BatchResultErrorEntry{
			entry("0", "InvalidParameterValue", "Value x for parameter ReceiptHandle is invalid. Reason: expired")}, nil, []string{"gone", "", ""}},
		{"the call fails", nil, errors.New("connection reset"), []string{"err", "err", "err"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := &fakeAPI{visFailed: tc.failed, errs: map[string]error{"ChangeMessageVisibilityBatch": tc.callErr}}
			src := newSource(t, api, nil)
			msgs := []*worker.Message{{ID: "a", Handle: "ha"}, {ID: "b", Handle: "hb"}, {ID: "c", Handle: "hc"}}
			errs := src.ExtendBatch(context.Background(), msgs, 90*time.Second)
			if len(errs) != len(msgs) {
				t.Fatalf("%d answers for %d messages", len(errs), len(msgs))
			}
			for i, err := range errs {
				got := ""
				switch {
				case errors.Is(err, worker.ErrNotInFlight):
					got = "gone"
				case err != nil:
					got = "err"
				}
				if got != tc.want[i] {
					t.Errorf("message %d: %v (%q), want %q", i, err, got, tc.want[i])
				}
			}
			if len(api.batches) != 1 || len(api.batches[0].Entries) != 3 || api.batches[0].Entries[1].VisibilityTimeout != 90 ||
				aws.ToString(api.batches[0].Entries[2].ReceiptHandle) != "hc" {
				t.Errorf("one batch of 3 handles at 90 s wanted, got %+v", api.batches)
			}
		})
	}
}

func TestDeadLetterPreservesTypedAttributes(t *testing.T) {
	t.Parallel()
	orig := map[string]types.MessageAttributeValue{
		"bin": {DataType: aws.String("Binary"), BinaryValue: []byte{0xde, 0xad}},
		"num": {DataType: aws.String("Number"), StringValue: aws.String("7")},
		"env": str("x.y.z"),
		// from an earlier dead-lettering: replaced
		worker.AttrReason: str("old_reason"),
	}
	api := &fakeAPI{messages: []types.Message{sqsMessage("a", orig)}}
	src := newSource(t, api, nil)
	got, err := src.Receive(context.Background(), 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("Receive: %v %v", got, err)
	}
	info := worker.DeadLetterInfo{Reason: "bad_signature", Stage: "envelope", Error: "nope", Attempts: 2}
	if err := src.DeadLetter(context.Background(), got[0], info); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ReceiveMessage", "ChangeMessageVisibility", "SendMessage", "DeleteMessageBatch"}; !slices.Equal(api.calls, want) {
		t.Errorf("calls = %v, want %v", api.calls, want)
	}
	send := api.sends[0]
	if aws.ToString(send.QueueUrl) != dlqURL || aws.ToString(send.MessageBody) != "body-a" {
		t.Errorf("send = %+v", send)
	}
	a := send.MessageAttributes
	if string(a["bin"].BinaryValue) != "\xde\xad" || aws.ToString(a["num"].DataType) != "Number" || aws.ToString(a["env"].StringValue) != "x.y.z" {
		t.Errorf("original attributes changed: %v", a)
	}
	if aws.ToString(a[worker.AttrReason].StringValue) != "bad_signature" || aws.ToString(a[worker.AttrOriginalMessageID].StringValue) != "a" {
		t.Errorf("reason attributes: %v", a)
	}
	if len(a) > worker.MaxAttributes {
		t.Errorf("%d attributes", len(a))
	}
	if send.MessageGroupId != nil || send.MessageDeduplicationId != nil {
		t.Error("FIFO parameters on a standard DLQ")
	}
	if d := api.deletes[0]; aws.ToString(d.QueueUrl) != queueURL || aws.ToString(d.Entries[0].ReceiptHandle) != "rh-a" {
		t.Errorf("delete = %+v", d)
	}
}

func TestDeadLetterFailures(t *testing.T) {
	t.Parallel()
	m := &worker.Message{ID: "m", Handle: "rh", Body: []byte("b"), Attributes: map[string]string{"k": "v"}}
	info := worker.DeadLetterInfo{Reason: "r"}

	src := newSource(t, &fakeAPI{}, func(c *sqssource.Config) { c.DLQURL = "" })
	if err := src.DeadLetter(context.Background(), m, info); !errors.Is(err, worker.ErrNoDeadLetterQueue) {
		t.Errorf("no DLQ: %v", err)
	}

	api := &fakeAPI{errs: map[string]error{"ChangeMessageVisibility": &types.MessageNotInflight{}}}
	if err := newSource(t, api, nil).DeadLetter(context.Background(), m, info); !errors.Is(err, worker.ErrNotInFlight) || len(api.sends) != 0 {
		t.Errorf("stale delivery: %v, %d sends (a stale delivery must not add a copy)", err, len(api.sends))
	}

	api = &fakeAPI{errs: map[string]error{"SendMessage": errors.New("dlq down")}}
	if err := newSource(t, api, nil).DeadLetter(context.Background(), m, info); err == nil || len(api.deletes) != 0 {
		t.Errorf("send failure: %v, %d deletes (never delete what was not copied)", err, len(api.deletes))
	}

	api = &fakeAPI{errs: map[string]error{"DeleteMessageBatch": errors.New("throttled")}}
	if err := newSource(t, api, nil).DeadLetter(context.Background(), m, info); err == nil || !strings.Contains(err.Error(), "copied") {
		t.Errorf("delete failure: %v", err)
	}
	// A message not from SQS (e.g. replayed): string attributes are sent as String.
	api = &fakeAPI{}
	if err := newSource(t, api, nil).DeadLetter(context.Background(), m, info); err != nil {
		t.Fatal(err)
	}
	if v := api.sends[0].MessageAttributes["k"]; aws.ToString(v.DataType) != "String" || aws.ToString(v.StringValue) != "v" {
		t.Errorf("attribute k = %+v", v)
	}
}

func TestDeadLetterFIFO(t *testing.T) {
	t.Parallel()
	msg := sqsMessage("a", nil)
	msg.Attributes["MessageGroupId"] = "tenant-7"
	api := &fakeAPI{messages: []types.Message{msg}}
	src := newSource(t, api, func(c *sqssource.Config) {
		c.QueueURL = queueURL + ".fifo"
		c.DLQURL = dlqURL + ".fifo"
	})
	got, err := src.Receive(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.DeadLetter(context.Background(), got[0], worker.DeadLetterInfo{Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	s := api.sends[0]
	if aws.ToString(s.MessageGroupId) != "tenant-7" || aws.ToString(s.MessageDeduplicationId) != "a-2" {
		t.Errorf("group %q dedup %q", aws.ToString(s.MessageGroupId), aws.ToString(s.MessageDeduplicationId))
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	tests := map[string]sqssource.Config{
		"no queue":          {},
		"dlq is the queue":  {QueueURL: queueURL, DLQURL: queueURL},
		"fifo/standard mix": {QueueURL: queueURL + ".fifo", DLQURL: dlqURL},
		"wait over 20s":     {QueueURL: queueURL, WaitTime: 21 * time.Second},
		"sub-second wait":   {QueueURL: queueURL, WaitTime: 100 * time.Millisecond},
		"visibility 0.5s":   {QueueURL: queueURL, VisibilityTimeout: 500 * time.Millisecond},
		"visibility 13h":    {QueueURL: queueURL, VisibilityTimeout: 13 * time.Hour},
	}
	for name, cfg := range tests {
		if _, err := sqssource.New(cfg, &fakeAPI{}, nil); !errors.Is(err, sqssource.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := sqssource.New(sqssource.Config{QueueURL: queueURL}, nil, nil); !errors.Is(err, sqssource.ErrInvalidConfig) {
		t.Errorf("nil API: %v", err)
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	info, err := newSource(t, &fakeAPI{}, nil).Inspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := sqssource.QueueInfo{
		ARN: "arn:aws:sqs:us-east-1:000000000000:q", Visible: 3, InFlight: 2, Delayed: 1,
		RedriveTargetARN: "arn:aws:sqs:us-east-1:000000000000:q-dlq", RedriveMaxReceiveCount: 5,
		DLQARN: "arn:aws:sqs:us-east-1:000000000000:q-dlq",
	}
	if info != want || info.Empty() {
		t.Errorf("Inspect = %+v, want %+v", info, want)
	}
	api := &fakeAPI{errs: map[string]error{"GetQueueAttributes": &types.QueueDoesNotExist{}}}
	if _, err := newSource(t, api, nil).Inspect(context.Background()); err == nil {
		t.Error("missing queue must fail the preflight")
	}
}

// iamActionOf maps an API method to the IAM action that authorizes it.
var iamActionOf = map[string]string{
	"ReceiveMessage":               "sqs:ReceiveMessage",
	"DeleteMessageBatch":           "sqs:DeleteMessage",
	"ChangeMessageVisibility":      "sqs:ChangeMessageVisibility",
	"ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
	"SendMessage":                  "sqs:SendMessage",
	"GetQueueAttributes":           "sqs:GetQueueAttributes",
	"CreateQueue":                  "sqs:CreateQueue",
	"SetQueueAttributes":           "sqs:SetQueueAttributes",
}

func TestIAMActionsCoverEveryCall(t *testing.T) {
	t.Parallel()
	union := slices.Concat(sqssource.RuntimeIAMActions, sqssource.SetupIAMActions)
	slices.Sort(union)
	union = slices.Compact(union)
	if !slices.Equal(union, sqssource.IAMActions) {
		t.Errorf("IAMActions = %v, want the sorted union %v", sqssource.IAMActions, union)
	}
	// Every method of both interfaces, exercised.
	api := &fakeAPI{messages: []types.Message{sqsMessage("a", nil)}}
	src := newSource(t, api, nil)
	ctx := context.Background()
	got, _ := src.Receive(ctx, 1)
	_ = src.Extend(ctx, got[0], time.Second)
	_ = src.ExtendBatch(ctx, got, time.Second)
	_ = src.DeadLetter(ctx, got[0], worker.DeadLetterInfo{Reason: "r"})
	_ = src.Ack(ctx, got[0])
	_, _ = src.Inspect(ctx)
	runtimeCalls := slices.Clone(api.calls)
	api.calls = nil
	if _, _, err := sqssource.EnsureQueues(ctx, api, "q", "q-dlq", 5); err != nil {
		t.Fatal(err)
	}
	check := func(calls, allowed []string) {
		for _, call := range calls {
			if a, ok := iamActionOf[call]; !ok || !slices.Contains(allowed, a) {
				t.Errorf("call %s (action %q) not in %v", call, a, allowed)
			}
		}
	}
	check(runtimeCalls, sqssource.RuntimeIAMActions)
	check(api.calls, sqssource.SetupIAMActions)
}

func TestEnsureQueuesRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, q, dlq string
		max          int
	}{
		{"bad name", "bad name", "dlq", 5},
		{"too long", strings.Repeat("q", 81), "dlq", 5},
		{"same names", "q", "q", 5},
		{"fifo mix", "q.fifo", "dlq", 5},
		{"zero max", "q", "dlq", 0},
		{"max over 1000", "q", "dlq", 1001},
	}
	for _, tc := range tests {
		api := &fakeAPI{}
		if _, _, err := sqssource.EnsureQueues(context.Background(), api, tc.q, tc.dlq, tc.max); err == nil || len(api.calls) != 0 {
			t.Errorf("%s: %v after %d calls", tc.name, err, len(api.calls))
		}
	}
}
