package main

import (
	"bytes"
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

func TestHumanAge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {45 * time.Second, "45s"}, {12*time.Minute + 5*time.Second, "12m"},
		{3*time.Hour + 5*time.Minute, "3h05m"}, {50 * time.Hour, "2d02h"},
	} {
		if got := humanAge(tc.d); got != tc.want {
			t.Errorf("humanAge(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestClipMiddle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"doc:a", 10, "doc:a"},
		{"s3://bucket/7d1c5d6e/doc/very-long-file-name.pdf", 20, "s3://buck…e-name.pdf"},
		{"ééééééééééé", 5, "éé…éé"},
	} {
		got := clipMiddle(tc.in, tc.n)
		if got != tc.want || len([]rune(got)) > max(tc.n, len([]rune(tc.in))) {
			t.Errorf("clipMiddle(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

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
		{name: "ages inverted", flags: DLQFilterFlags{MinAge: time.Hour, MaxAge: time.Minute}},
	} {
		if _, err := tc.flags.filter(); (err == nil) != tc.ok {
			t.Errorf("%s: filter() error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestInspectTable(t *testing.T) {
	t.Parallel()
	tenant := uuid.MustParse("7d1c5d6e-2f44-4b8e-9a59-3f0c2b7e1a10")
	msgs := []dlq.Message{
		{ID: "m-1", Verified: true, Tenant: tenant, Action: "reindex", Resource: "doc:doc-1", Reason: "handler_failed", Stage: "embed", Attempts: 5, Age: 2 * time.Hour},
		{ID: "m-2", UnverifiedReason: "bad_signature", Reason: "bad_signature", Stage: "verify", Attempts: 1, Age: time.Minute},
	}
	rep := &dlq.Report{Queue: "jobs-dlq", ApproximateCount: 2, Scanned: 2, Messages: msgs, Groups: dlq.GroupMessages(msgs)}
	var b bytes.Buffer
	writeInspectTable(&b, rep)
	out := b.String()
	for _, want := range []string{
		"DLQ jobs-dlq: 2 message(s) read",
		"m-1  7d1c5d6e-2f44-4b8e-9a59-3f0c2b7e1a10  reindex  doc:doc-1  handler_failed  embed   5         2h00m  0",
		"m-2  unverified (bad_signature)",
		"unverified                            bad_signature   1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	writeInspectJSON(&b, rep)
	if lines := strings.Count(b.String(), "\n"); lines != 5 || !strings.Contains(b.String(), `"age_seconds":7200`) {
		t.Errorf("JSON lines:\n%s", b.String())
	}
}

func TestReplayOutput(t *testing.T) {
	t.Parallel()
	tenant := uuid.New()
	results := []dlq.Result{
		{Message: dlq.Message{ID: "m-1", Verified: true, Tenant: tenant, Resource: "doc:1", Reason: "handler_failed"}, Outcome: dlq.OutcomeReplayed, NewMessageID: "n-1"},
		{Message: dlq.Message{ID: "m-2"}, Outcome: dlq.OutcomeSkipped},
		{Message: dlq.Message{ID: "m-3", UnverifiedReason: "expired", Reason: "handler_failed"}, Outcome: dlq.OutcomeRejected, Code: "expired"},
	}
	st := dlq.Stats{Target: "https://sqs/q", Approximate: 3, Scanned: 3, Matched: 2, Replayed: 1, Rejected: 1}
	for _, tc := range []struct {
		name            string
		bar, json       bool
		want, wantNot   []string
		wantBarProgress bool
	}{
		{name: "plain", want: []string{"replaying to q", "replayed     m-1", "rejected     m-3  tenant=unverified (expired)", "1 replayed", "rejected: expired"}, wantNot: []string{"m-2"}},
		{name: "terminal", bar: true, want: []string{"rejected     m-3", "1 replayed"}, wantNot: []string{"replayed     m-1", "m-2"}, wantBarProgress: true},
		{name: "json", json: true, want: []string{`"type":"result"`, `"outcome":"rejected"`, `"type":"summary"`}, wantNot: []string{"m-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			o := newReplayOutput(&out, &errOut, tc.bar, tc.json, false)
			o.start(st)
			for _, r := range results {
				o.result(r)
			}
			o.finish(st)
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
			if tc.wantBarProgress != (errOut.Len() > 0) {
				t.Errorf("progress bar output: %q", errOut.String())
			}
		})
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
	flags := DLQRedriveFlags{AWS: AWSFlags{Region: "us-east-1", SQSEndpoint: endpoint}, DLQURL: aws.ToString(out.QueueUrl)}
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"start", func() error { return (&DLQRedriveStartCmd{DLQRedriveFlags: flags}).Run(g) }},
		{"list", func() error { return (&DLQRedriveListCmd{DLQRedriveFlags: flags}).Run(g) }},
		{"cancel", func() error { return (&DLQRedriveCancelCmd{AWS: flags.AWS, Handle: "h"}).Run(g) }},
	} {
		err := tc.run()
		if !errors.Is(err, dlq.ErrUnsupported) || !strings.Contains(err.Error(), "tenantry dlq replay") {
			t.Errorf("redrive %s: %v, want the unsupported explanation", tc.name, err)
		}
	}
}
