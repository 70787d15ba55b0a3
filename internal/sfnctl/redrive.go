package sfnctl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/statemachine"
)

// Filter selects failed executions (Redrive) or failure records (Replay).
type Filter struct {
	// Tenant, if set, selects one tenant's executions (see the package doc
	// for how the tenant of an execution is found).
	Tenant uuid.UUID
	// Since and Until bound when the execution stopped (Redrive) or
	// started (Replay); zero is unbounded.
	Since, Until time.Time
	// Errors selects by error name, exactly. Empty selects every error
	// except PermanentErrors, which a redrive or replay cannot fix.
	Errors []string
	// Statuses are the execution statuses Redrive looks at (default
	// FAILED and TIMED_OUT; ABORTED executions were stopped on purpose).
	Statuses []types.ExecutionStatus
	// Limit bounds how many executions are redriven or replayed (0: all).
	Limit int
	// DryRun reports what would be done and does nothing.
	DryRun bool
}

// Ago bounds f to executions that stopped (or started) between since and
// until before now; a zero duration leaves that side unbounded.
func (f Filter) Ago(now time.Time, since, until time.Duration) Filter {
	if since > 0 {
		f.Since = now.Add(-since)
	}
	if until > 0 {
		f.Until = now.Add(-until)
	}
	return f
}

// PermanentErrors are execution errors that a redrive or a replay of the
// same input cannot fix: they are only acted on when named in
// Filter.Errors.
var PermanentErrors = []string{"Tenantry.Permanent", "Tenantry.EnvelopeRejected", "Tenantry.UnknownBucket", "Tenantry.UnknownInput"}

func (f Filter) errorMatches(name string) bool {
	if len(f.Errors) == 0 {
		return !slices.Contains(PermanentErrors, name)
	}
	return slices.Contains(f.Errors, name)
}

func (f Filter) timeMatches(t time.Time) bool {
	return (f.Since.IsZero() || !t.Before(f.Since)) && (f.Until.IsZero() || t.Before(f.Until))
}

// Action is what Redrive or Replay did with one execution or record.
type Action string

// Actions.
const (
	ActionRedriven      Action = "redriven"
	ActionReplayed      Action = "replayed"
	ActionDuplicate     Action = "duplicate"      // the replay's execution exists already: the record is done
	ActionWould         Action = "would"          // dry run
	ActionNotRedrivable Action = "not_redrivable" // Step Functions says no (too old, history full...)
	ActionSkipped       Action = "skipped"        // selected, but cannot be acted on (see Outcome.Err)
	ActionFailed        Action = "failed"         // the API call failed (see Outcome.Err)
)

// Outcome is one selected execution or failure record.
type Outcome struct {
	ExecutionARN string
	Name         string
	Tenant       uuid.UUID // uuid.Nil when unknown
	Error        string
	At           time.Time // stop date (Redrive), start date (Replay)
	Action       Action
	// NewExecutionARN is the replay's execution.
	NewExecutionARN string
	Err             error
}

// Line is the outcome as one JSON-ready line of `tenantry sfn redrive|replay`.
func (o Outcome) Line() map[string]any {
	line := map[string]any{"action": o.Action, "name": o.Name, "error": o.Error, "execution_arn": o.ExecutionARN}
	if o.Tenant != uuid.Nil {
		line["tenant"] = o.Tenant
	}
	if !o.At.IsZero() {
		line["at"] = o.At.UTC().Format(time.RFC3339)
	}
	if o.NewExecutionARN != "" {
		line["new_execution_arn"] = o.NewExecutionARN
	}
	if o.Err != nil {
		line["detail"] = o.Err.Error()
	}
	return line
}

// Summary counts what a Redrive or Replay did.
type Summary struct {
	Scanned  int `json:"scanned"`
	Selected int `json:"selected"`
	Done     int `json:"done"`   // redriven, replayed or duplicate (would, in a dry run)
	Failed   int `json:"failed"` // not redrivable, skipped or failed
}

func (s *Summary) add(o Outcome) {
	s.Selected++
	switch o.Action {
	case ActionRedriven, ActionReplayed, ActionDuplicate, ActionWould:
		s.Done++
	default:
		s.Failed++
	}
}

// redriveWindow: Step Functions redrives executions that stopped in the
// last 14 days.
const redriveWindow = 14 * 24 * time.Hour

// Redrive restarts failed Standard executions that match f from the state
// that failed (only failed Map iterations run again). report is called for
// each selected execution. Each RedriveExecution carries a client token
// derived from the execution and its redrive count, so running the same
// command twice does not redrive twice.
func (c *Controller) Redrive(ctx context.Context, f Filter, report func(Outcome)) (Summary, error) {
	statuses := f.Statuses
	if len(statuses) == 0 {
		statuses = []types.ExecutionStatus{types.ExecutionStatusFailed, types.ExecutionStatusTimedOut}
	}
	// List first, then act: redriving changes an execution's status, which
	// would shift the pages of a listing still in progress.
	var items []types.ExecutionListItem
	for _, status := range statuses {
		var next *string
		for {
			if err := c.limiter.Wait(ctx); err != nil {
				return Summary{}, err
			}
			page, err := c.deps.SFN.ListExecutions(ctx, &sfn.ListExecutionsInput{
				StateMachineArn: aws.String(c.cfg.StateMachineARN), StatusFilter: status, MaxResults: 100, NextToken: next,
			})
			if err != nil {
				return Summary{}, fmt.Errorf("sfnctl: list executions: %w", err)
			}
			items = append(items, page.Executions...)
			if page.NextToken == nil {
				break
			}
			next = page.NextToken
		}
	}
	var sum Summary
	for _, it := range items {
		sum.Scanned++
		if f.Limit > 0 && sum.Done >= f.Limit {
			break
		}
		o, selected, err := c.redriveOne(ctx, f, it)
		if err != nil {
			return sum, err
		}
		if !selected {
			continue
		}
		sum.add(o)
		if report != nil {
			report(o)
		}
	}
	return sum, nil
}

func (c *Controller) redriveOne(ctx context.Context, f Filter, it types.ExecutionListItem) (Outcome, bool, error) {
	stop := aws.ToTime(it.StopDate)
	o := Outcome{ExecutionARN: aws.ToString(it.ExecutionArn), Name: aws.ToString(it.Name), At: stop}
	if !f.timeMatches(stop) || (!stop.IsZero() && time.Since(stop) > redriveWindow) {
		return o, false, nil
	}
	tenant, fromName := TenantOfExecution(o.Name)
	if fromName {
		o.Tenant = tenant
		if f.Tenant != uuid.Nil && tenant != f.Tenant {
			return o, false, nil
		}
	}
	if err := c.limiter.Wait(ctx); err != nil {
		return o, false, err
	}
	d, err := c.deps.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: it.ExecutionArn})
	if err != nil {
		return o, false, fmt.Errorf("sfnctl: describe %s: %w", o.Name, err)
	}
	o.Error = aws.ToString(d.Error)
	if !fromName {
		// A name Step Functions or EventBridge chose: select by the key's
		// tenant segment (selection only; every task re-verifies).
		if in, err := statemachine.ParseInput([]byte(aws.ToString(d.Input))); err == nil {
			if first, _, ok := strings.Cut(in.Key, "/"); ok {
				o.Tenant, _ = uuid.Parse(first)
			}
		}
		if f.Tenant != uuid.Nil && o.Tenant != f.Tenant {
			return o, false, nil
		}
	}
	if !f.errorMatches(o.Error) {
		return o, false, nil
	}
	switch {
	case d.RedriveStatus != types.ExecutionRedriveStatusRedrivable:
		o.Action = ActionNotRedrivable
		o.Err = fmt.Errorf("%s", aws.ToString(d.RedriveStatusReason))
		return o, true, nil
	case f.DryRun:
		o.Action = ActionWould
		return o, true, nil
	}
	if err := c.limiter.Wait(ctx); err != nil {
		return o, false, err
	}
	sum := sha256.Sum256([]byte(o.ExecutionARN + "\x00" + strconv.Itoa(int(aws.ToInt32(d.RedriveCount)))))
	_, err = c.deps.SFN.RedriveExecution(ctx, &sfn.RedriveExecutionInput{
		ExecutionArn: it.ExecutionArn, ClientToken: aws.String(hex.EncodeToString(sum[:])[:64]),
	})
	var notRedrivable *types.ExecutionNotRedrivable
	switch {
	case errors.As(err, &notRedrivable):
		o.Action, o.Err = ActionNotRedrivable, err
	case err != nil:
		o.Action, o.Err = ActionFailed, err
		c.log.Warn("redrive failed", zap.String("execution", o.Name), zap.Error(err))
	default:
		o.Action = ActionRedriven
	}
	return o, true, nil
}
