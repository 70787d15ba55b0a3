package dlq

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
)

// systemAttributes are the SQS system attributes a scan asks for.
var systemAttributes = []types.MessageSystemAttributeName{
	types.MessageSystemAttributeNameApproximateReceiveCount,
	types.MessageSystemAttributeNameSentTimestamp,
	types.MessageSystemAttributeNameMessageGroupId,
}

// releaseTimeout bounds the visibility reset of an interrupted scan (it runs
// on a context that is not cancelled, so an interrupt does not leave
// messages hidden for the whole visibility timeout).
const releaseTimeout = 10 * time.Second

// scanner walks a queue without consuming it: whatever the caller does not
// keep is held (left invisible) until the walk ends and then released
// (visibility 0) at once, message ids are deduplicated across receives, and
// the walk ends when a receive brings nothing new. Holding matters: a server
// that hands out the oldest visible messages first (fauxqs does) would
// otherwise return the same released messages on every receive and never
// reach the rest. A walk longer than the visibility timeout lets held
// messages come back by themselves; they are then received again, counted
// as seen and held anew.
type scanner struct {
	api        API
	queueURL   string
	visibility time.Duration
	wait       time.Duration
	// staleRounds is how many receives in a row may bring only messages
	// already seen before the walk ends, once at least expect messages were
	// seen (expect < 0: unknown); ten times as many end it regardless. (SQS
	// samples its servers, so a receive can bring released messages again
	// while unseen ones remain.)
	staleRounds int
	expect      int
	now         func() time.Time
	log         *zap.Logger

	seen map[string]struct{}
	// held maps a message id to the receipt handle of its latest receive
	// (an older handle of the same message may no longer be accepted).
	held  map[string]string
	stale int
	// settleUntil is set by the first empty receive that comes while fewer
	// messages were seen than expected: until then the walk keeps polling,
	// since a message can be in flight from a receive whose answer never
	// arrived (a retried request) and returns within the visibility timeout.
	settleUntil time.Time
	// Counters for stats.
	receives, releaseFailures int
}

func newScanner(api API, queueURL string, visibility, wait time.Duration, staleRounds, expect int, now func() time.Time, log *zap.Logger) *scanner {
	return &scanner{
		api: api, queueURL: queueURL, visibility: visibility, wait: wait, staleRounds: staleRounds, expect: expect,
		now: now, log: log, seen: map[string]struct{}{}, held: map[string]string{},
	}
}

// next receives up to n (1..10) messages and returns those not seen before;
// messages seen before are held again. done is true when the walk is
// over (the receive was empty, or brought nothing new too often in a row,
// see staleRounds); fresh may still hold messages then.
func (s *scanner) next(ctx context.Context, n int) (fresh []*delivery, done bool, err error) {
	out, err := s.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(s.queueURL),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             seconds(s.wait),
		VisibilityTimeout:           seconds(s.visibility),
		MessageSystemAttributeNames: systemAttributes,
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, true, ctx.Err()
		}
		return nil, true, fmt.Errorf("dlq: receive from %s: %w", QueueName(s.queueURL), err)
	}
	s.receives++
	if len(out.Messages) == 0 {
		if s.expect >= 0 && len(s.seen) < s.expect {
			now := time.Now()
			if s.settleUntil.IsZero() {
				s.settleUntil = now.Add(s.visibility)
			}
			if now.Before(s.settleUntil) {
				return nil, false, nil
			}
		}
		return nil, true, nil
	}
	now := s.now()
	for i := range out.Messages {
		d, ok := newDelivery(&out.Messages[i], now)
		if !ok {
			s.log.Warn("skipping a malformed ReceiveMessage entry")
			continue
		}
		if _, dup := s.seen[d.msg.ID]; dup {
			s.hold(d)
			continue
		}
		s.seen[d.msg.ID] = struct{}{}
		fresh = append(fresh, d)
	}
	if len(fresh) == 0 {
		s.stale++
		enough := s.expect < 0 || len(s.seen) >= s.expect
		return nil, s.stale >= s.staleRounds && enough || s.stale >= 10*s.staleRounds, nil
	}
	s.stale = 0
	return fresh, false, nil
}

// hold keeps deliveries invisible until finish releases them.
func (s *scanner) hold(ds ...*delivery) {
	for _, d := range ds {
		s.held[d.msg.ID] = d.handle
	}
}

// finish makes every held message visible again at once. It runs even when
// ctx is cancelled (bounded by releaseTimeout); failures are logged, not
// returned: a message comes back by itself when its visibility timeout ends.
func (s *scanner) finish(ctx context.Context) {
	if len(s.held) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	handles := slices.Collect(maps.Values(s.held))
	clear(s.held)
	for chunk := range slices.Chunk(handles, 10) {
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, h := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h), VisibilityTimeout: 0,
			}
		}
		out, err := s.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
			QueueUrl: aws.String(s.queueURL), Entries: entries,
		})
		if err != nil {
			s.releaseFailures += len(chunk)
			s.log.Warn("could not make messages visible again; they return when their visibility timeout ends",
				zap.Int("messages", len(chunk)), zap.Duration("visibility_timeout", s.visibility), zap.Error(err))
			continue
		}
		for _, f := range out.Failed {
			s.releaseFailures++
			s.log.Warn("could not make a message visible again", zap.String("code", aws.ToString(f.Code)))
		}
	}
}

// approximateCount returns the queue's approximate number of visible plus
// in-flight messages (-1 if unknown).
func approximateCount(ctx context.Context, api API, queueURL string) (int, string, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameQueueArn,
		},
	})
	if err != nil {
		return -1, "", fmt.Errorf("dlq: queue %s attributes: %w", QueueName(queueURL), err)
	}
	a := out.Attributes
	v, err1 := strconv.Atoi(a[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	nv, err2 := strconv.Atoi(a[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	if err := errors.Join(err1, err2); err != nil {
		return -1, a[string(types.QueueAttributeNameQueueArn)], nil
	}
	return v + nv, a[string(types.QueueAttributeNameQueueArn)], nil
}
