package console

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/sfnctl"
	"github.com/tenantry/tenantry/statemachine"
)

// ExecutionsAPI is the part of *sfn.Client Executions uses.
type ExecutionsAPI interface {
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, optFns ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// Execution is one Step Functions execution of a document (no input or
// output is shown: they carry envelopes and intermediate data).
type Execution struct {
	Name, Status string
	Start, Stop  time.Time
	Redrives     int32
}

// Executions finds a document's Step Functions executions where a state
// machine is configured: it walks the newest executions (names made by
// sfnctl.ExecutionName start with the tenant, so other tenants' are skipped
// unread) and keeps those whose input names the document's object.
type Executions struct {
	API             ExecutionsAPI
	StateMachineARN string
	// MaxScan bounds the executions listed per request (default 500).
	MaxScan int
}

// ForDocument lists tenant's executions for document, newest first.
func (e *Executions) ForDocument(ctx context.Context, tenant uuid.UUID, document string) ([]Execution, error) {
	if e == nil || e.API == nil || e.StateMachineARN == "" {
		return nil, ErrUnavailable
	}
	limit := e.MaxScan
	if limit <= 0 {
		limit = 500
	}
	var out []Execution
	var token *string
	for seen := 0; seen < limit; {
		page, err := e.API.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(e.StateMachineARN),
			MaxResults: int32(min(100, limit-seen)), NextToken: token})
		if err != nil {
			return out, fmt.Errorf("console: list executions: %w", err)
		}
		for _, it := range page.Executions {
			seen++
			if t, ok := sfnctl.TenantOfExecution(aws.ToString(it.Name)); !ok || t != tenant {
				continue
			}
			d, err := e.API.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: it.ExecutionArn})
			if err != nil {
				return out, fmt.Errorf("console: describe execution: %w", err)
			}
			in, err := statemachine.ParseInput([]byte(aws.ToString(d.Input)))
			if err != nil {
				continue
			}
			k, err := envelope.ParseObjectKey(in.Key)
			if err != nil || k.Tenant != tenant || k.Document != document {
				continue
			}
			out = append(out, Execution{Name: aws.ToString(it.Name), Status: string(it.Status),
				Start: aws.ToTime(it.StartDate), Stop: aws.ToTime(it.StopDate), Redrives: aws.ToInt32(it.RedriveCount)})
		}
		if token = page.NextToken; token == nil || len(page.Executions) == 0 {
			break
		}
	}
	return out, nil
}
