package sfnctl_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const machine = "arn:aws:states:us-east-1:123456789012:stateMachine:tenantry-pipeline"

// fakeSFN is an in-memory Step Functions control plane: enough of
// ListExecutions/DescribeExecution/RedriveExecution/StartExecution to test
// selection and idempotency.
type fakeSFN struct {
	mu         sync.Mutex
	executions []*fakeExecution
	started    []*sfn.StartExecutionInput
	redrives   []string // client tokens
	pageSize   int
}

type fakeExecution struct {
	name, input, errName string
	status               types.ExecutionStatus
	stop                 time.Time
	redrivable           bool
	redriveCount         int32
}

func (f *fakeSFN) arn(name string) string {
	return strings.Replace(machine, ":stateMachine:", ":execution:", 1) + ":" + name
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.executions {
		if e.name == aws.ToString(in.Name) {
			return nil, &types.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists")}
		}
	}
	f.started = append(f.started, in)
	f.executions = append(f.executions, &fakeExecution{name: aws.ToString(in.Name), input: aws.ToString(in.Input), status: types.ExecutionStatusRunning})
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(f.arn(aws.ToString(in.Name))), StartDate: aws.Time(time.Now())}, nil
}

func (f *fakeSFN) ListExecutions(_ context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if aws.ToString(in.StateMachineArn) != machine {
		return nil, &types.StateMachineDoesNotExist{}
	}
	var all []types.ExecutionListItem
	for _, e := range f.executions {
		if in.StatusFilter == "" || e.status == in.StatusFilter {
			all = append(all, types.ExecutionListItem{ExecutionArn: aws.String(f.arn(e.name)), Name: aws.String(e.name),
				Status: e.status, StopDate: aws.Time(e.stop), StateMachineArn: aws.String(machine)})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return aws.ToTime(all[i].StopDate).After(aws.ToTime(all[j].StopDate)) })
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	}
	size := f.pageSize
	if size == 0 {
		size = 2
	}
	out := &sfn.ListExecutionsOutput{}
	end := min(start+size, len(all))
	out.Executions = all[start:end]
	if end < len(all) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

func (f *fakeSFN) find(arn string) *fakeExecution {
	for _, e := range f.executions {
		if f.arn(e.name) == arn {
			return e
		}
	}
	return nil
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.find(aws.ToString(in.ExecutionArn))
	if e == nil {
		return nil, &types.ExecutionDoesNotExist{}
	}
	out := &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Name: aws.String(e.name), Status: e.status, Input: aws.String(e.input),
		Error: aws.String(e.errName), StopDate: aws.Time(e.stop), RedriveCount: aws.Int32(e.redriveCount),
		RedriveStatus: types.ExecutionRedriveStatusNotRedrivable, RedriveStatusReason: aws.String("Execution redrivable period exceeded.")}
	if e.redrivable {
		out.RedriveStatus, out.RedriveStatusReason = types.ExecutionRedriveStatusRedrivable, nil
	}
	return out, nil
}

func (f *fakeSFN) RedriveExecution(_ context.Context, in *sfn.RedriveExecutionInput, _ ...func(*sfn.Options)) (*sfn.RedriveExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.find(aws.ToString(in.ExecutionArn))
	if e == nil || !e.redrivable {
		return nil, &types.ExecutionNotRedrivable{Message: aws.String("not redrivable")}
	}
	f.redrives = append(f.redrives, aws.ToString(in.ClientToken))
	e.status, e.redrivable = types.ExecutionStatusRunning, false
	e.redriveCount++
	return &sfn.RedriveExecutionOutput{RedriveDate: aws.Time(time.Now())}, nil
}

// fakeS3 answers HeadObject from a map of key → metadata.
type fakeS3 struct {
	objects map[string]map[string]string // bucket/key → metadata
}

func (f *fakeS3) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	md, ok := f.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)]
	if !ok {
		return nil, &s3types.NotFound{}
	}
	return &s3.HeadObjectOutput{Metadata: md, ETag: aws.String(`"0123abcd"`), VersionId: aws.String("v1"), ContentLength: aws.Int64(10)}, nil
}

// GetObject is never called by the controller: it reads metadata only.
func (f *fakeS3) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, errors.New("fakeS3: GetObject not expected")
}

// fakeSQS is a queue of failure records with receive/delete/release.
type fakeSQS struct {
	mu       sync.Mutex
	bodies   map[string]string // handle → body
	visible  map[string]bool
	deleted  []string
	released []string
}

func newFakeSQS(bodies ...string) *fakeSQS {
	q := &fakeSQS{bodies: map[string]string{}, visible: map[string]bool{}}
	for i, b := range bodies {
		h := fmt.Sprintf("h%02d", i)
		q.bodies[h], q.visible[h] = b, true
	}
	return q
}

func (q *fakeSQS) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var handles []string
	for h, v := range q.visible {
		if v {
			handles = append(handles, h)
		}
	}
	sort.Strings(handles)
	out := &sqs.ReceiveMessageOutput{}
	for _, h := range handles {
		if len(out.Messages) == int(in.MaxNumberOfMessages) {
			break
		}
		q.visible[h] = false
		out.Messages = append(out.Messages, sqstypes.Message{ReceiptHandle: aws.String(h), Body: aws.String(q.bodies[h]), MessageId: aws.String(h)})
	}
	return out, nil
}

func (q *fakeSQS) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	h := aws.ToString(in.ReceiptHandle)
	delete(q.bodies, h)
	delete(q.visible, h)
	q.deleted = append(q.deleted, h)
	return &sqs.DeleteMessageOutput{}, nil
}

func (q *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	h := aws.ToString(in.ReceiptHandle)
	if _, ok := q.bodies[h]; ok && in.VisibilityTimeout == 0 {
		q.visible[h] = true
		q.released = append(q.released, h)
	}
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}
