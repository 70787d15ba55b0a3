package dlq

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// maxScannedQueues bounds the fallback scan of SourceQueues.
const maxScannedQueues = 1000

// SourceQueues returns the URLs of the queues whose redrive policy sends to
// the DLQ at dlqURL, sorted. It asks ListDeadLetterSourceQueues; where the
// server does not implement it (local servers), it reads the redrive policy
// of every queue ListQueues returns (at most 1000).
func SourceQueues(ctx context.Context, api SourceAPI, dlqURL string) ([]string, error) {
	var urls []string
	in := &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(dlqURL), MaxResults: aws.Int32(1000)}
	for {
		out, err := api.ListDeadLetterSourceQueues(ctx, in)
		if err != nil {
			if unsupported(err) {
				return scanSourceQueues(ctx, api, dlqURL)
			}
			return nil, fmt.Errorf("dlq: list source queues of %s: %w", QueueName(dlqURL), err)
		}
		urls = append(urls, out.QueueUrls...)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	slices.Sort(urls)
	return slices.Compact(urls), nil
}

func scanSourceQueues(ctx context.Context, api SourceAPI, dlqURL string) ([]string, error) {
	arn, err := queueARN(ctx, api, dlqURL)
	if err != nil {
		return nil, err
	}
	var urls []string
	in := &sqs.ListQueuesInput{MaxResults: aws.Int32(1000)}
	scanned := 0
	for scanned < maxScannedQueues {
		out, err := api.ListQueues(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("dlq: list queues: %w", err)
		}
		for _, u := range out.QueueUrls {
			if scanned++; scanned > maxScannedQueues || u == dlqURL {
				continue
			}
			a, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
				QueueUrl:       aws.String(u),
				AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy},
			})
			if err != nil {
				// Deleted meanwhile, or not ours to read: not a source we can use.
				continue
			}
			if deadLetterTarget(a.Attributes[string(types.QueueAttributeNameRedrivePolicy)]) == arn {
				urls = append(urls, u)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	slices.Sort(urls)
	return urls, nil
}

// attributesAPI is the GetQueueAttributes call alone.
type attributesAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

func queueARN(ctx context.Context, api attributesAPI, url string) (string, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("dlq: queue %s ARN: %w", QueueName(url), err)
	}
	arn := out.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", fmt.Errorf("dlq: queue %s has no ARN", QueueName(url))
	}
	return arn, nil
}

// deadLetterTarget reads deadLetterTargetArn from a RedrivePolicy ("" if
// there is none or it is malformed).
func deadLetterTarget(policy string) string {
	if policy == "" {
		return ""
	}
	var p struct {
		Target string `json:"deadLetterTargetArn"`
	}
	if json.Unmarshal([]byte(policy), &p) != nil {
		return ""
	}
	return p.Target
}
