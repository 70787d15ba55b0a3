package breaker_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenantry/tenantry/internal/breaker"
)

type fakeSQS struct{ in *sqs.SendMessageInput }

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.in = in
	return &sqs.SendMessageOutput{}, nil
}

func TestSQSSender(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url string
		attrs     map[string]string
		group     bool
		dedup     string
	}{
		{"standard queue", "https://sqs/1/jobs", map[string]string{breaker.AttrReleasedSeq: "7", "empty": ""}, false, ""},
		{"FIFO queue: one group, deduplicated by the parked row", "https://sqs/1/jobs.fifo", map[string]string{breaker.AttrReleasedSeq: "7"}, true, "release-7"},
		{"FIFO queue without the seq: by the body", "https://sqs/1/jobs.fifo", nil, true,
			"release-" + "230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeSQS{}
			if err := (breaker.SQSSender{API: f, QueueURL: tc.url}).Send(context.Background(), "body", tc.attrs); err != nil {
				t.Fatal(err)
			}
			if aws.ToString(f.in.MessageBody) != "body" || aws.ToString(f.in.QueueUrl) != tc.url {
				t.Errorf("sent %+v", f.in)
			}
			if (f.in.MessageGroupId != nil) != tc.group || aws.ToString(f.in.MessageDeduplicationId) != tc.dedup {
				t.Errorf("group %v dedup %q", f.in.MessageGroupId, aws.ToString(f.in.MessageDeduplicationId))
			}
			if _, ok := f.in.MessageAttributes["empty"]; ok {
				t.Error("an empty attribute was sent (SQS refuses it)")
			}
		})
	}
}
