package sfnctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/statemachine"
)

// FailureRecord is the message the Express definition's RecordFailure
// state sends to the failure queue (statemachine/pipeline.express.asl.json).
type FailureRecord struct {
	Execution       string          `json:"execution"`
	ExecutionARN    string          `json:"executionArn"`
	StateMachineARN string          `json:"stateMachineArn"`
	StartedAt       string          `json:"startedAt"`
	Input           json.RawMessage `json:"input"`
	Failure         struct {
		Error string `json:"Error"`
		Cause string `json:"Cause"`
	} `json:"failure"`
}

// maxRecordBytes bounds a failure record (an SQS body is at most 256 KiB).
const maxRecordBytes = 256 << 10

// ParseFailureRecord decodes and checks a failure record.
func ParseFailureRecord(body []byte) (FailureRecord, error) {
	var r FailureRecord
	if len(body) > maxRecordBytes {
		return r, errors.New("sfnctl: failure record too large")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return FailureRecord{}, errors.New("sfnctl: not a failure record")
	}
	if dec.More() || r.ExecutionARN == "" || len(r.Input) == 0 || r.Failure.Error == "" || len(r.Failure.Error) > 256 {
		return FailureRecord{}, errors.New("sfnctl: incomplete failure record")
	}
	return r, nil
}

// Replay starts a new execution for every failure record in queueURL that
// matches f (Express executions cannot be redriven), then deletes the
// record. The new execution runs on the controller's state machine with the
// failed execution's input; its name is derived from the verified tenant,
// the document and version, and the failed execution, so replaying a record
// twice starts one execution on a Standard state machine.
//
// Records that do not match (or whose envelope no longer verifies) are left
// in the queue: they are hidden while the scan runs, then made visible
// again. report is called for each matching record.
func (c *Controller) Replay(ctx context.Context, queueURL string, f Filter, report func(Outcome)) (Summary, error) {
	if c.deps.SQS == nil {
		return Summary{}, fmt.Errorf("%w: SQS is required to replay", ErrInvalidConfig)
	}
	var (
		sum  Summary
		keep []string // receipt handles to make visible again
	)
	defer func() { c.release(context.WithoutCancel(ctx), queueURL, keep) }()
	empty := 0
	for sum.Scanned < c.cfg.MaxScan && empty < 2 {
		if f.Limit > 0 && sum.Done >= f.Limit {
			break
		}
		out, err := c.deps.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			VisibilityTimeout: int32(c.cfg.ReplayVisibility / time.Second),
		})
		if err != nil {
			return sum, fmt.Errorf("sfnctl: receive failure records: %w", err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range out.Messages {
			sum.Scanned++
			handle := aws.ToString(m.ReceiptHandle)
			if f.Limit > 0 && sum.Done >= f.Limit {
				keep = append(keep, handle)
				continue
			}
			o, selected, done := c.replayOne(ctx, f, []byte(aws.ToString(m.Body)))
			if !selected || !done || f.DryRun {
				keep = append(keep, handle)
			}
			if !selected {
				continue
			}
			sum.add(o)
			if report != nil {
				report(o)
			}
			if done && !f.DryRun {
				if _, err := c.deps.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: aws.String(handle)}); err != nil {
					// Replayed but not deleted: a second replay of it is
					// refused by name on a Standard state machine.
					c.log.Warn("failure record replayed but not deleted", zap.String("execution", o.Name), zap.Error(err))
				}
			}
		}
	}
	return sum, nil
}

// replayOne returns the outcome, whether the record matched f, and whether
// it is done with (replayed, or a duplicate of a replay).
func (c *Controller) replayOne(ctx context.Context, f Filter, body []byte) (Outcome, bool, bool) {
	r, err := ParseFailureRecord(body)
	if err != nil {
		// Not ours to judge by a filter: report it only when unfiltered.
		o := Outcome{Action: ActionSkipped, Err: err}
		return o, f.Tenant == uuid.Nil && len(f.Errors) == 0, false
	}
	o := Outcome{ExecutionARN: r.ExecutionARN, Name: r.Execution, Error: r.Failure.Error}
	o.At, _ = time.Parse(time.RFC3339Nano, r.StartedAt)
	if !f.timeMatches(o.At) || !f.errorMatches(o.Error) {
		return o, false, false
	}
	in, err := statemachine.ParseInput(r.Input)
	if err != nil {
		o.Action, o.Err = ActionSkipped, err
		return o, f.Tenant == uuid.Nil, false
	}
	if err := c.limiter.Wait(ctx); err != nil {
		o.Action, o.Err = ActionFailed, err
		return o, true, false
	}
	res, err := c.resolve(ctx, in.Bucket, in.Key, in.VersionID, in.Envelope)
	if err != nil {
		o.Action, o.Err = ActionSkipped, err
		return o, f.Tenant == uuid.Nil, false
	}
	o.Tenant = res.tenant
	if f.Tenant != uuid.Nil && res.tenant != f.Tenant {
		return o, false, false
	}
	if f.DryRun {
		o.Action = ActionWould
		return o, true, false
	}
	if err := c.limiter.Wait(ctx); err != nil {
		o.Action, o.Err = ActionFailed, err
		return o, true, false
	}
	name := ExecutionName(res.tenant, res.document, res.version+"#replay:"+r.ExecutionARN)
	st, err := c.start(ctx, res.tenant, name, string(r.Input))
	switch {
	case err != nil:
		o.Action, o.Err = ActionFailed, err
		return o, true, false
	case st.Duplicate:
		o.Action, o.NewExecutionARN = ActionDuplicate, st.ExecutionARN
	default:
		o.Action, o.NewExecutionARN = ActionReplayed, st.ExecutionARN
	}
	return o, true, true
}

// release makes the kept records visible again at once.
func (c *Controller) release(ctx context.Context, queueURL string, handles []string) {
	for _, h := range handles {
		if _, err := c.deps.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(queueURL), ReceiptHandle: aws.String(h), VisibilityTimeout: 0,
		}); err != nil {
			c.log.Warn("could not release a failure record (visible again after the scan's visibility timeout)", zap.Error(err))
		}
	}
}
