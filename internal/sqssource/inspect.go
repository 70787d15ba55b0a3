package sqssource

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// QueueInfo describes the queue a Source consumes (from GetQueueAttributes).
type QueueInfo struct {
	ARN string
	// Approximate message counts.
	Visible, InFlight, Delayed int64
	// The queue's redrive policy ("" and 0 without one).
	RedriveTargetARN       string
	RedriveMaxReceiveCount int
	// DLQARN is the ARN of Config.DLQURL ("" without one).
	DLQARN string
}

// Empty reports whether no message is visible, in flight or delayed.
func (q QueueInfo) Empty() bool { return q.Visible == 0 && q.InFlight == 0 && q.Delayed == 0 }

// Inspect reads the queue's (and the DLQ's) attributes. It doubles as a
// preflight: it fails if either queue is missing or not readable.
func (s *Source) Inspect(ctx context.Context) (QueueInfo, error) {
	out, err := s.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(s.cfg.QueueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameQueueArn,
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
			types.QueueAttributeNameRedrivePolicy,
		},
	})
	if err != nil {
		return QueueInfo{}, fmt.Errorf("sqssource: inspect queue %s: %w", queueName(s.cfg.QueueURL), err)
	}
	a := out.Attributes
	info := QueueInfo{
		ARN:      a[string(types.QueueAttributeNameQueueArn)],
		Visible:  atoi64(a[string(types.QueueAttributeNameApproximateNumberOfMessages)]),
		InFlight: atoi64(a[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)]),
		Delayed:  atoi64(a[string(types.QueueAttributeNameApproximateNumberOfMessagesDelayed)]),
	}
	if rp := a[string(types.QueueAttributeNameRedrivePolicy)]; rp != "" {
		target, maxReceive, err := parseRedrivePolicy(rp)
		if err != nil {
			return QueueInfo{}, fmt.Errorf("sqssource: queue %s: %w", queueName(s.cfg.QueueURL), err)
		}
		info.RedriveTargetARN, info.RedriveMaxReceiveCount = target, maxReceive
	}
	if s.cfg.DLQURL != "" {
		out, err := s.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(s.cfg.DLQURL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
		})
		if err != nil {
			return QueueInfo{}, fmt.Errorf("sqssource: inspect DLQ %s: %w", queueName(s.cfg.DLQURL), err)
		}
		info.DLQARN = out.Attributes[string(types.QueueAttributeNameQueueArn)]
	}
	return info, nil
}

// QueueMaxReceiveCount implements worker.MaxReceiveCounter: the queue's
// redrive maxReceiveCount, 0 without a redrive policy. The runner handles a
// message at most one time less, so that it, not the queue, dead-letters
// (with the reason) and finalizes every message, even one whose handler was
// killed on its last attempt.
func (s *Source) QueueMaxReceiveCount(ctx context.Context) (int, error) {
	out, err := s.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(s.cfg.QueueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return 0, fmt.Errorf("sqssource: redrive policy of %s: %w", queueName(s.cfg.QueueURL), err)
	}
	rp := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if rp == "" {
		return 0, nil
	}
	_, n, err := parseRedrivePolicy(rp)
	if err != nil {
		return 0, fmt.Errorf("sqssource: queue %s: %w", queueName(s.cfg.QueueURL), err)
	}
	return n, nil
}

// parseRedrivePolicy reads SQS's RedrivePolicy JSON; maxReceiveCount may be
// a number or a string.
func parseRedrivePolicy(s string) (target string, maxReceive int, err error) {
	var p struct {
		Target string          `json:"deadLetterTargetArn"`
		Max    json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return "", 0, fmt.Errorf("malformed RedrivePolicy: %w", err)
	}
	raw := string(p.Max)
	if uq, err := strconv.Unquote(raw); err == nil {
		raw = uq
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return "", 0, fmt.Errorf("malformed RedrivePolicy maxReceiveCount %q", p.Max)
	}
	return p.Target, n, nil
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
