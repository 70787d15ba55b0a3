package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/console"
	"github.com/tenantry/tenantry/internal/sfnctl"
	"github.com/tenantry/tenantry/statemachine"
)

// fakeSFN serves ListExecutions (two per page) and DescribeExecution from
// a fixed list, and counts the executions whose input was read.
type fakeSFN struct {
	items     []types.ExecutionListItem
	inputs    map[string]string
	described []string
}

func (f *fakeSFN) ListExecutions(_ context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	start := 0
	if in.NextToken != nil {
		start = int((*in.NextToken)[0] - '0')
	}
	end := min(start+2, len(f.items), start+int(in.MaxResults))
	out := &sfn.ListExecutionsOutput{Executions: f.items[start:end]}
	if end < len(f.items) {
		out.NextToken = aws.String(string(rune('0' + end)))
	}
	return out, nil
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.described = append(f.described, aws.ToString(in.ExecutionArn))
	return &sfn.DescribeExecutionOutput{Input: aws.String(f.inputs[aws.ToString(in.ExecutionArn)])}, nil
}

func (f *fakeSFN) add(tenant uuid.UUID, name, key, status string) {
	arn := "arn:aws:states:us-east-1:1:execution:pipeline:" + name
	f.items = append(f.items, types.ExecutionListItem{Name: aws.String(name), ExecutionArn: aws.String(arn),
		Status: types.ExecutionStatus(status), StartDate: aws.Time(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))})
	if f.inputs == nil {
		f.inputs = map[string]string{}
	}
	f.inputs[arn] = statemachine.Input{Bucket: "docs", Key: key, Envelope: "not.shown.anywhere"}.JSON()
	_ = tenant
}

func newFakeSFN(a, b uuid.UUID) *fakeSFN {
	f := &fakeSFN{}
	f.add(a, sfnctl.ExecutionName(a, "contract-1", "v2"), a.String()+"/contract-1/c.pdf", "SUCCEEDED")
	f.add(b, sfnctl.ExecutionName(b, "contract-1", "v1"), b.String()+"/contract-1/c.pdf", "FAILED") // another tenant, same document id
	f.add(a, "eventbridge-1234", a.String()+"/contract-1/c.pdf", "RUNNING")                         // not a name of ours
	f.add(a, sfnctl.ExecutionName(a, "scan-3", "v1"), a.String()+"/scan-3/s.tiff", "FAILED")
	f.add(a, sfnctl.ExecutionName(a, "contract-1", "v1"), a.String()+"/contract-1/c.pdf", "FAILED")
	return f
}

// A document's executions: only the tenant's own (other tenants' are not
// even described), only that document's, newest first.
func TestExecutionsForDocument(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	f := newFakeSFN(a, b)
	ex := &console.Executions{API: f, StateMachineARN: "arn:aws:states:us-east-1:1:stateMachine:pipeline"}
	got, err := ex.ForDocument(context.Background(), a, "contract-1")
	if err != nil || len(got) != 2 || got[0].Status != "SUCCEEDED" || got[1].Status != "FAILED" {
		t.Fatalf("%+v %v", got, err)
	}
	if len(f.described) != 3 {
		t.Fatalf("described %d executions, want only tenant a's 3", len(f.described))
	}
	if _, err := (&console.Executions{}).ForDocument(context.Background(), a, "x"); err == nil {
		t.Fatal("an unconfigured state machine answered")
	}
	if got, _ := (&console.Executions{API: newFakeSFN(a, b), StateMachineARN: "x", MaxScan: 1}).ForDocument(context.Background(), a, "contract-1"); len(got) != 1 {
		t.Fatalf("MaxScan 1: %d", len(got))
	}
}
