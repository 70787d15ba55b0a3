package breaker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tenantry/tenantry/internal/telemetry"
)

// SQSAPI is the part of the SQS client a SQSSender needs.
type SQSAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQSSender sends released messages to the worker's SQS queue. On a FIFO
// queue they go in one message group, in release order, deduplicated by
// the parked row they came from.
type SQSSender struct {
	API      SQSAPI
	QueueURL string
}

// releaseGroup is the FIFO message group of released messages.
const releaseGroup = "tenantry-release"

// Send sends body with attrs as String attributes.
func (s SQSSender) Send(ctx context.Context, body string, attrs map[string]string) error {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(s.QueueURL), MessageBody: aws.String(body)}
	if len(attrs) > 0 {
		in.MessageAttributes = make(map[string]types.MessageAttributeValue, len(attrs))
		for k, v := range attrs {
			if v == "" {
				continue
			}
			in.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	// The release continues the releaser's trace (W3C traceparent).
	in.MessageAttributes = telemetry.InjectSQS(ctx, in.MessageAttributes)
	if strings.HasSuffix(s.QueueURL, ".fifo") {
		dedup := "release-" + attrs[AttrReleasedSeq]
		if attrs[AttrReleasedSeq] == "" {
			sum := sha256.Sum256([]byte(body))
			dedup = "release-" + hex.EncodeToString(sum[:])[:64]
		}
		in.MessageGroupId, in.MessageDeduplicationId = aws.String(releaseGroup), aws.String(dedup)
	}
	_, err := s.API.SendMessage(ctx, in)
	return err
}
