package dlq

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Redriver wraps SQS's own message-move tasks (StartMessageMoveTask,
// ListMessageMoveTasks, CancelMessageMoveTask): unfiltered bulk moves from a
// DLQ back to its source queues. They neither verify envelopes nor audit nor
// carry a replay history; use a Replayer for that. Servers without the
// operations (fauxqs) make every method return an error wrapping
// ErrUnsupported.
type Redriver struct {
	api RedriveAPI
}

// NewRedriver returns a Redriver over api.
func NewRedriver(api RedriveAPI) *Redriver { return &Redriver{api: api} }

// MoveTask is one message-move task.
type MoveTask struct {
	Handle         string    `json:"handle,omitempty"` // only for a running task
	Status         string    `json:"status"`           // RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED
	SourceARN      string    `json:"source_arn"`
	DestinationARN string    `json:"destination_arn,omitempty"` // "" = each message's original source
	MaxPerSecond   int32     `json:"max_per_second,omitempty"`
	Moved          int64     `json:"moved"`
	ToMove         int64     `json:"to_move,omitempty"`
	Started        time.Time `json:"started,omitzero"`
	FailureReason  string    `json:"failure_reason,omitempty"`
}

// Start starts moving every message of the DLQ at dlqURL to destURL ("" =
// back to each message's source queue), at most maxPerSecond messages per
// second (0 = SQS's default). It returns the task handle.
func (r *Redriver) Start(ctx context.Context, dlqURL, destURL string, maxPerSecond int32) (string, error) {
	src, err := queueARN(ctx, r.api, dlqURL)
	if err != nil {
		return "", err
	}
	in := &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(src)}
	if destURL != "" {
		dst, err := queueARN(ctx, r.api, destURL)
		if err != nil {
			return "", err
		}
		in.DestinationArn = aws.String(dst)
	}
	if maxPerSecond > 0 {
		in.MaxNumberOfMessagesPerSecond = aws.Int32(maxPerSecond)
	}
	out, err := r.api.StartMessageMoveTask(ctx, in)
	if err != nil {
		return "", redriveError("start a message-move task", err)
	}
	return aws.ToString(out.TaskHandle), nil
}

// List returns the DLQ's recent message-move tasks (SQS keeps the last 10).
func (r *Redriver) List(ctx context.Context, dlqURL string) ([]MoveTask, error) {
	src, err := queueARN(ctx, r.api, dlqURL)
	if err != nil {
		return nil, err
	}
	out, err := r.api.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(src), MaxResults: aws.Int32(10)})
	if err != nil {
		return nil, redriveError("list message-move tasks", err)
	}
	tasks := make([]MoveTask, 0, len(out.Results))
	for _, t := range out.Results {
		mt := MoveTask{
			Handle: aws.ToString(t.TaskHandle), Status: aws.ToString(t.Status),
			SourceARN: aws.ToString(t.SourceArn), DestinationARN: aws.ToString(t.DestinationArn),
			MaxPerSecond: aws.ToInt32(t.MaxNumberOfMessagesPerSecond), Moved: t.ApproximateNumberOfMessagesMoved,
			ToMove: aws.ToInt64(t.ApproximateNumberOfMessagesToMove), FailureReason: aws.ToString(t.FailureReason),
		}
		if t.StartedTimestamp > 0 {
			mt.Started = time.UnixMilli(t.StartedTimestamp).UTC()
		}
		tasks = append(tasks, mt)
	}
	return tasks, nil
}

// Cancel cancels a running task and returns how many messages it moved.
func (r *Redriver) Cancel(ctx context.Context, handle string) (int64, error) {
	out, err := r.api.CancelMessageMoveTask(ctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: aws.String(handle)})
	if err != nil {
		return 0, redriveError("cancel a message-move task", err)
	}
	return out.ApproximateNumberOfMessagesMoved, nil
}

func redriveError(op string, err error) error {
	if unsupported(err) {
		return fmt.Errorf("%w: cannot %s: %s: %w", ErrUnsupported, op, unsupportedHint, err)
	}
	return fmt.Errorf("dlq: %s: %w", op, err)
}
