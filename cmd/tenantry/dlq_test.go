package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/dlq"
)

func TestDLQFilterFlags(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	for _, tc := range []struct {
		name  string
		flags DLQFilterFlags
		ok    bool
	}{
		{name: "empty", ok: true},
		{name: "tenant", flags: DLQFilterFlags{Tenant: []string{id.String()}}, ok: true},
		{name: "upper-case tenant (normalised)", flags: DLQFilterFlags{Tenant: []string{strings.ToUpper(id.String())}}, ok: true},
		{name: "braced tenant", flags: DLQFilterFlags{Tenant: []string{"{" + id.String() + "}"}}},
		{name: "not a uuid", flags: DLQFilterFlags{Tenant: []string{"acme"}}},
		{name: "ages inverted", flags: DLQFilterFlags{Until: time.Hour, Since: time.Minute}},
	} {
		if _, err := tc.flags.filter(); (err == nil) != tc.ok {
			t.Errorf("%s: filter() error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestRedriveUnsupportedCLI runs `tenantry dlq redrive list` against the
// local SQS server, which has no message-move tasks: the answer must be the
// clear explanation, not a protocol error.
func TestRedriveUnsupportedCLI(t *testing.T) {
	endpoint := os.Getenv("TENANTRY_SQS_ENDPOINT")
	if endpoint == "" {
		t.Skip("TENANTRY_SQS_ENDPOINT not set")
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		// fauxqs accepts any credentials; the SDK only needs some.
		t.Setenv("AWS_ACCESS_KEY_ID", "local")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := sqs.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("x", "x", "")},
		func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("tenantry-clitest-" + uuid.NewString()[:8])})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	g := &Globals{ctx: ctx, logger: zap.NewNop()}
	flags := DLQRedriveFlags{AWS: AWSFlags{Region: "us-east-1"}, SQS: SQSEndpoint{endpoint}, DLQURL: aws.ToString(out.QueueUrl)}
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"start", func() error { return (&DLQRedriveStartCmd{DLQRedriveFlags: flags}).Run(g) }},
		{"list", func() error { return (&DLQRedriveListCmd{DLQRedriveFlags: flags}).Run(g) }},
		{"cancel", func() error { return (&DLQRedriveCancelCmd{AWS: flags.AWS, SQS: flags.SQS, Handle: "h"}).Run(g) }},
	} {
		err := tc.run()
		if !errors.Is(err, dlq.ErrUnsupported) || !strings.Contains(err.Error(), "tenantry dlq replay") {
			t.Errorf("redrive %s: %v, want the unsupported explanation", tc.name, err)
		}
	}
}
