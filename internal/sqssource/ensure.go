package sqssource

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// AdminAPI is the part of *sqs.Client EnsureQueues uses.
type AdminAPI interface {
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
}

var _ AdminAPI = (*sqs.Client)(nil)

var queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,75}(\.fifo)?$`)

// dlqRetention is the DLQ's message retention: the SQS maximum, 14 days.
const dlqRetention = 14 * 24 * 60 * 60

// EnsureQueues creates (or updates) the queue name and its dead-letter queue
// dlqName, with a redrive policy moving a message to the DLQ after
// maxReceive receives (1..1000; give it at least the runner's
// MaxReceiveCount). It is idempotent and returns both queue URLs. Names
// ending in ".fifo" make FIFO queues (both or neither). It is meant for the
// local stack, the demo and tests; production queues come from IaC.
func EnsureQueues(ctx context.Context, client AdminAPI, name, dlqName string, maxReceive int) (queueURL, dlqURL string, err error) {
	switch {
	case !queueNameRE.MatchString(name) || !queueNameRE.MatchString(dlqName):
		return "", "", fmt.Errorf("sqssource: invalid queue name %q or %q", name, dlqName)
	case name == dlqName:
		return "", "", fmt.Errorf("sqssource: queue and DLQ must have different names")
	case isFIFO(name) != isFIFO(dlqName):
		return "", "", fmt.Errorf("sqssource: queue and DLQ must both be FIFO or both standard")
	case maxReceive < 1 || maxReceive > 1000:
		return "", "", fmt.Errorf("sqssource: maxReceive must be 1..1000, got %d", maxReceive)
	}
	dlqURL, err = createQueue(ctx, client, dlqName)
	if err != nil {
		return "", "", err
	}
	if _, err := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(dlqURL),
		Attributes: map[string]string{string(types.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(dlqRetention)},
	}); err != nil {
		return "", "", fmt.Errorf("sqssource: set DLQ %s retention: %w", dlqName, err)
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(dlqURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("sqssource: get DLQ %s ARN: %w", dlqName, err)
	}
	dlqARN := attrs.Attributes[string(types.QueueAttributeNameQueueArn)]
	if dlqARN == "" {
		return "", "", fmt.Errorf("sqssource: DLQ %s has no ARN", dlqName)
	}
	queueURL, err = createQueue(ctx, client, name)
	if err != nil {
		return "", "", err
	}
	policy, err := json.Marshal(map[string]string{"deadLetterTargetArn": dlqARN, "maxReceiveCount": strconv.Itoa(maxReceive)})
	if err != nil {
		return "", "", err
	}
	if _, err := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(queueURL),
		Attributes: map[string]string{string(types.QueueAttributeNameRedrivePolicy): string(policy)},
	}); err != nil {
		return "", "", fmt.Errorf("sqssource: set queue %s redrive policy: %w", name, err)
	}
	return queueURL, dlqURL, nil
}

// createQueue creates the queue or returns the existing one's URL. It passes
// no attributes besides FifoQueue, so an existing queue never conflicts;
// attributes are set afterwards.
func createQueue(ctx context.Context, client AdminAPI, name string) (string, error) {
	in := &sqs.CreateQueueInput{QueueName: aws.String(name)}
	if isFIFO(name) {
		in.Attributes = map[string]string{string(types.QueueAttributeNameFifoQueue): "true"}
	}
	out, err := client.CreateQueue(ctx, in)
	if err != nil {
		return "", fmt.Errorf("sqssource: create queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}
