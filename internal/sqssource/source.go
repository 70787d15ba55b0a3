package sqssource

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/worker"
)

// API is the part of *sqs.Client a Source uses.
type API interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var _ API = (*sqs.Client)(nil)

var _ worker.BatchExtender = (*Source)(nil)

// Defaults for Config.
const (
	DefaultWaitTime          = 20 * time.Second
	DefaultVisibilityTimeout = 30 * time.Second
)

// Config configures a Source.
type Config struct {
	// QueueURL is the queue to consume. Required.
	QueueURL string
	// DLQURL is the dead-letter queue DeadLetter sends to. Optional:
	// without it DeadLetter returns worker.ErrNoDeadLetterQueue (and the
	// runner leaves the message to the queue's redrive policy). A FIFO
	// queue needs a FIFO DLQ.
	DLQURL string
	// WaitTime is the long-poll wait of a receive, 1s..20s (default 20s).
	// A receive whose context has a nearer deadline waits less, so it
	// returns before the deadline.
	WaitTime time.Duration
	// VisibilityTimeout hides received messages (default 30s; whole
	// seconds, 1s..12h). Give the runner the same value.
	VisibilityTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.WaitTime == 0 {
		c.WaitTime = DefaultWaitTime
	}
	if c.VisibilityTimeout == 0 {
		c.VisibilityTimeout = DefaultVisibilityTimeout
	}
	return c
}

// ErrInvalidConfig is wrapped by New's validation errors.
var ErrInvalidConfig = errors.New("sqssource: invalid config")

func (c Config) validate() error {
	switch {
	case c.QueueURL == "":
		return fmt.Errorf("%w: QueueURL is required", ErrInvalidConfig)
	case c.DLQURL == c.QueueURL:
		return fmt.Errorf("%w: DLQURL must differ from QueueURL", ErrInvalidConfig)
	case c.DLQURL != "" && isFIFO(c.QueueURL) != isFIFO(c.DLQURL):
		return fmt.Errorf("%w: the queue and its DLQ must both be FIFO or both standard", ErrInvalidConfig)
	case c.WaitTime < time.Second || c.WaitTime > 20*time.Second:
		return fmt.Errorf("%w: WaitTime must be 1s..20s, got %s", ErrInvalidConfig, c.WaitTime)
	case c.VisibilityTimeout < time.Second || c.VisibilityTimeout > worker.MaxVisibility:
		return fmt.Errorf("%w: VisibilityTimeout must be 1s..12h, got %s", ErrInvalidConfig, c.VisibilityTimeout)
	}
	return nil
}

// Source is a worker.Source on one SQS queue (and its DLQ).
type Source struct {
	cfg Config
	api API
	log *zap.Logger
}

var (
	_ worker.Source            = (*Source)(nil)
	_ worker.MaxReceiveCounter = (*Source)(nil)
)

// New returns a Source. logger may be nil.
func New(cfg Config, api API, logger *zap.Logger) (*Source, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if api == nil {
		return nil, fmt.Errorf("%w: nil API client", ErrInvalidConfig)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Source{cfg: cfg, api: api, log: logger.With(zap.String("queue", queueName(cfg.QueueURL)))}, nil
}

// systemAttributes are the SQS system attributes every receive asks for.
var systemAttributes = []types.MessageSystemAttributeName{
	types.MessageSystemAttributeNameApproximateReceiveCount,
	types.MessageSystemAttributeNameSentTimestamp,
	types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp,
	types.MessageSystemAttributeNameMessageGroupId,
}

// deadlineMargin keeps a long poll's end this far before the caller's
// deadline, so the answer arrives in time and no abandoned poll is left
// on the server to swallow messages.
const deadlineMargin = 500 * time.Millisecond

// shortPollPause spaces out short polls made near a deadline.
const shortPollPause = 200 * time.Millisecond

// Receive implements worker.Source: one ReceiveMessage call, long-polling up
// to WaitTime (less if ctx's deadline is nearer).
func (s *Source) Receive(ctx context.Context, n int) ([]*worker.Message, error) {
	if n < 1 || n > 10 {
		return nil, fmt.Errorf("sqssource: receive: max must be 1..10, got %d", n)
	}
	wait := s.cfg.WaitTime
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-deadlineMargin)
	}
	waitSeconds := int32(max(wait, 0) / time.Second)
	out, err := s.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(s.cfg.QueueURL),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             waitSeconds, // 0 is omitted: the queue's default (0 from EnsureQueues) applies
		VisibilityTimeout:           seconds(s.cfg.VisibilityTimeout),
		MessageSystemAttributeNames: systemAttributes,
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sqssource: receive: %w", ctx.Err())
		}
		return nil, fmt.Errorf("sqssource: receive: %w", err)
	}
	now := time.Now()
	msgs := make([]*worker.Message, 0, len(out.Messages))
	for i := range out.Messages {
		m, err := convert(&out.Messages[i], now)
		if err != nil {
			// Not ours to judge; the runner will see it again after the
			// visibility timeout. This only happens with a broken server.
			s.log.Error("dropping a malformed ReceiveMessage entry", zap.Error(err))
			continue
		}
		msgs = append(msgs, m)
	}
	if len(msgs) > n {
		return nil, fmt.Errorf("sqssource: receive: server returned %d messages for max %d", len(msgs), n)
	}
	if len(msgs) == 0 && waitSeconds == 0 {
		// A short poll near the deadline: pause so callers that loop
		// until their deadline do not hammer the server.
		t := time.NewTimer(shortPollPause)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return msgs, nil
}

// raw is what a Source keeps in worker.Message.Raw.
type raw struct {
	attrs   map[string]types.MessageAttributeValue
	groupID string
}

func convert(sm *types.Message, now time.Time) (*worker.Message, error) {
	if sm.MessageId == nil || sm.ReceiptHandle == nil || sm.Body == nil {
		return nil, errors.New("message without id, receipt handle or body")
	}
	m := &worker.Message{
		ID:         *sm.MessageId,
		Body:       []byte(*sm.Body),
		Handle:     *sm.ReceiptHandle,
		ReceivedAt: now,
		Raw:        &raw{attrs: sm.MessageAttributes, groupID: sm.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]},
	}
	if len(sm.MessageAttributes) > 0 {
		m.Attributes = make(map[string]string, len(sm.MessageAttributes))
		for name, v := range sm.MessageAttributes {
			if v.StringValue != nil && v.DataType != nil && !strings.HasPrefix(*v.DataType, "Binary") {
				m.Attributes[name] = *v.StringValue
			}
		}
	}
	if n, err := strconv.Atoi(sm.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil {
		m.ReceiveCount = n
	} else {
		return nil, fmt.Errorf("message %s: no ApproximateReceiveCount", m.ID)
	}
	m.SentAt = millis(sm.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)])
	m.FirstReceivedAt = millis(sm.Attributes[string(types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp)])
	return m, nil
}

func millis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Ack implements worker.Source with DeleteMessageBatch calls of up to 10.
// Deliveries whose receipt handle is no longer valid are skipped (logged).
func (s *Source) Ack(ctx context.Context, msgs ...*worker.Message) error {
	var errs []error
	for chunk := range slices.Chunk(msgs, 10) {
		if err := s.deleteBatch(ctx, chunk); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Source) deleteBatch(ctx context.Context, msgs []*worker.Message) error {
	entries := make([]types.DeleteMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.Handle)}
	}
	out, err := s.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(s.cfg.QueueURL), Entries: entries})
	if err != nil {
		return fmt.Errorf("sqssource: delete %d messages: %w", len(msgs), err)
	}
	var failed []string
	for _, f := range out.Failed {
		i, err := strconv.Atoi(aws.ToString(f.Id))
		if err != nil || i < 0 || i >= len(msgs) {
			failed = append(failed, "?:"+aws.ToString(f.Code))
			continue
		}
		if aws.ToString(f.Code) == "ReceiptHandleIsInvalid" {
			s.log.Warn("delete: receipt handle no longer valid (the message may be delivered again)",
				zap.String("message_id", msgs[i].ID))
			continue
		}
		failed = append(failed, msgs[i].ID+":"+aws.ToString(f.Code))
	}
	if len(failed) > 0 {
		return fmt.Errorf("sqssource: delete failed for %d of %d messages: %s", len(failed), len(msgs), strings.Join(failed, ", "))
	}
	return nil
}

// Nack implements worker.Source (ChangeMessageVisibility; delay rounded up
// to whole seconds, at most 12h).
func (s *Source) Nack(ctx context.Context, m *worker.Message, delay time.Duration) error {
	if err := s.changeVisibility(ctx, m, delay); err != nil {
		return fmt.Errorf("sqssource: nack %s: %w", m.ID, err)
	}
	return nil
}

// Extend implements worker.Source (ChangeMessageVisibility).
func (s *Source) Extend(ctx context.Context, m *worker.Message, d time.Duration) error {
	if err := s.changeVisibility(ctx, m, d); err != nil {
		return fmt.Errorf("sqssource: extend %s: %w", m.ID, err)
	}
	return nil
}

// ExtendBatch implements worker.BatchExtender (ChangeMessageVisibilityBatch,
// at most 10 messages).
func (s *Source) ExtendBatch(ctx context.Context, msgs []*worker.Message, d time.Duration) []error {
	errs := make([]error, len(msgs))
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)),
			ReceiptHandle: aws.String(m.Handle), VisibilityTimeout: seconds(d)}
	}
	out, err := s.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
		QueueUrl: aws.String(s.cfg.QueueURL), Entries: entries})
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("sqssource: extend %d messages: %w", len(msgs), err)
		}
		return errs
	}
	answered := make([]bool, len(msgs))
	for _, ok := range out.Successful {
		if i, err := strconv.Atoi(aws.ToString(ok.Id)); err == nil && i >= 0 && i < len(msgs) {
			answered[i] = true
		}
	}
	for _, f := range out.Failed {
		i, err := strconv.Atoi(aws.ToString(f.Id))
		if err != nil || i < 0 || i >= len(msgs) {
			continue
		}
		answered[i] = true
		errs[i] = fmt.Errorf("sqssource: extend %s: %s: %s", msgs[i].ID, aws.ToString(f.Code), aws.ToString(f.Message))
		if notInFlightCode(aws.ToString(f.Code), aws.ToString(f.Message)) {
			errs[i] = fmt.Errorf("%w: %w", worker.ErrNotInFlight, errs[i])
		}
	}
	for i, ok := range answered {
		if !ok {
			errs[i] = fmt.Errorf("sqssource: extend %s: no answer in the batch result", msgs[i].ID)
		}
	}
	return errs
}

func (s *Source) changeVisibility(ctx context.Context, m *worker.Message, d time.Duration) error {
	_, err := s.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(s.cfg.QueueURL),
		ReceiptHandle:     aws.String(m.Handle),
		VisibilityTimeout: seconds(d),
	})
	if err != nil && notInFlight(err) {
		return fmt.Errorf("%w: %w", worker.ErrNotInFlight, err)
	}
	return err
}

// notInFlight classifies SQS's answers to an operation on a delivery that is
// no longer held.
func notInFlight(err error) bool {
	var (
		nif *types.MessageNotInflight
		rhi *types.ReceiptHandleIsInvalid
		ae  smithy.APIError
	)
	switch {
	case errors.As(err, &nif), errors.As(err, &rhi):
		return true
	case errors.As(err, &ae):
		return notInFlightCode(ae.ErrorCode(), ae.ErrorMessage())
	}
	return false
}

// notInFlightCode classifies an SQS error code and message (of a call, or
// of one entry of a batch) about a delivery that is no longer held.
func notInFlightCode(code, msg string) bool {
	switch code {
	case "MessageNotInflight", "ReceiptHandleIsInvalid", "AWS.SimpleQueueService.MessageNotInflight":
		return true
	case "InvalidParameterValue":
		// SQS reports an expired or deleted receipt handle on
		// ChangeMessageVisibility this way ("Value ... for parameter
		// ReceiptHandle is invalid").
		return strings.Contains(strings.ToLower(msg), "receipthandle")
	}
	return false
}

// DeadLetter implements worker.Source: it checks the delivery is still held
// (so a stale delivery never adds a copy), sends the body with the original
// typed attributes plus the reason attributes to the DLQ, then deletes the
// original. If the delete fails after the send, the DLQ may hold a
// duplicate when the message fails again.
func (s *Source) DeadLetter(ctx context.Context, m *worker.Message, info worker.DeadLetterInfo) error {
	if s.cfg.DLQURL == "" {
		return worker.ErrNoDeadLetterQueue
	}
	if err := s.changeVisibility(ctx, m, s.cfg.VisibilityTimeout); err != nil {
		return fmt.Errorf("sqssource: dead-letter %s: %w", m.ID, err)
	}
	attrs, groupID := originalAttributes(m)
	for _, a := range worker.DeadLetterAttributes(slices.Collect(maps.Keys(attrs)), info, m.ID) {
		attrs[a.Name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(a.Value)}
	}
	in := &sqs.SendMessageInput{
		QueueUrl:          aws.String(s.cfg.DLQURL),
		MessageBody:       aws.String(string(m.Body)),
		MessageAttributes: attrs,
	}
	if isFIFO(s.cfg.DLQURL) {
		in.MessageGroupId = aws.String(orDefault(groupID, "tenantry-dead-letter"))
		in.MessageDeduplicationId = aws.String(dedupID(m))
	}
	if _, err := s.api.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("sqssource: dead-letter %s: send to DLQ: %w", m.ID, err)
	}
	if err := s.deleteBatch(ctx, []*worker.Message{m}); err != nil {
		return fmt.Errorf("sqssource: dead-letter %s: copied to the DLQ, but deleting the original failed: %w", m.ID, err)
	}
	return nil
}

// originalAttributes returns a copy of the message's typed attributes (from
// the delivery when it came from SQS, else its string attributes).
func originalAttributes(m *worker.Message) (map[string]types.MessageAttributeValue, string) {
	if r, ok := m.Raw.(*raw); ok {
		attrs := make(map[string]types.MessageAttributeValue, len(r.attrs)+6)
		maps.Copy(attrs, r.attrs)
		return attrs, r.groupID
	}
	attrs := make(map[string]types.MessageAttributeValue, len(m.Attributes)+6)
	for k, v := range m.Attributes {
		attrs[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return attrs, ""
}

// dedupID is a FIFO deduplication id for the dead-lettered copy: one per
// delivery, at most 128 characters.
func dedupID(m *worker.Message) string {
	id := worker.SanitizeReason(m.ID) + "-" + strconv.Itoa(m.ReceiveCount)
	if len(id) > 128 {
		id = id[len(id)-128:]
	}
	return id
}

func seconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	d = min(d, worker.MaxVisibility)
	return int32((d + time.Second - 1) / time.Second)
}

func isFIFO(url string) bool { return strings.HasSuffix(url, ".fifo") }

func queueName(url string) string {
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		return url[i+1:]
	}
	return url
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
