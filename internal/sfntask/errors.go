package sfntask

import (
	"encoding/json"
	"errors"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/outcome"
	"github.com/tenantry/tenantry/worker"
)

// Error names sent with SendTaskFailure. The state machine definitions
// retry and catch exactly these names (statemachine tests parse both).
const (
	// ErrorTransient: worth retrying soon (network, 5xx, a database
	// restart, keys unreachable). Retried by the state machine with
	// backoff and full jitter.
	ErrorTransient = "Tenantry.Transient"
	// ErrorThrottled: a remote side asked us to slow down (HTTP 429, a
	// Retry-After). Retried with a longer interval.
	ErrorThrottled = "Tenantry.Throttled"
	// ErrorPermanent: the same input can never succeed (unsupported or
	// malformed document, too large, empty, the object is gone, a
	// malformed task). Caught into MarkFailed.
	ErrorPermanent = "Tenantry.Permanent"
	// ErrorEnvelopeRejected: the envelope did not verify (forged,
	// tampered, expired, wrong binding...). Recorded as a security event;
	// caught into MarkFailed, which writes nothing for it.
	ErrorEnvelopeRejected = "Tenantry.EnvelopeRejected"
	// ErrorBreakerOpen: the task's tenant's circuit breaker is open
	// (tripped by its failures, or paused by an operator), or half-open
	// with its one trial already running: the task did nothing. Retried by
	// the state machine with a long backoff (internal/breaker).
	ErrorBreakerOpen = "Tenantry.BreakerOpen"
)

// ErrorNames lists every error name the worker sends.
func ErrorNames() []string {
	return []string{ErrorTransient, ErrorThrottled, ErrorBreakerOpen, ErrorPermanent, ErrorEnvelopeRejected}
}

// RetriedErrorNames are the names the state machine must retry;
// CaughtErrorNames the names it must catch into MarkFailed.
var (
	RetriedErrorNames = []string{ErrorTransient, ErrorThrottled, ErrorBreakerOpen}
	CaughtErrorNames  = []string{ErrorPermanent, ErrorEnvelopeRejected}
)

// Reason codes the Step Functions tasks assign themselves; the others are
// the gate's (internal/binding, internal/envelope), the pipeline's and
// internal/outcome's, read from the error by outcome.Classify.
const (
	ReasonMalformedTask       = "malformed_task"
	ReasonBadInput            = "bad_input"
	ReasonIntermediateMissing = "intermediate_missing"
	ReasonOutputTooLarge      = "output_too_large"
	// ReasonNotRecorded: a security event could not be recorded; the task
	// is not answered (it comes back), the Lambda invocation is retried.
	ReasonNotRecorded = "not_recorded"
)

// Failure is a classified stage failure.
type Failure struct {
	Name   string // one of ErrorNames
	Stage  Stage
	Reason string // stable code (worker.SanitizeReason applied)
}

// Cause is the JSON sent as SendTaskFailure's cause: stable codes only.
type Cause struct {
	Stage  Stage  `json:"stage"`
	Reason string `json:"reason"`
}

// CauseJSON renders the cause.
func (f Failure) CauseJSON() string {
	b, _ := json.Marshal(Cause{Stage: f.Stage, Reason: f.Reason})
	return string(b)
}

// ParseCause reads a cause written by CauseJSON (ok false for anything else,
// e.g. a cause written by Step Functions itself for a timeout).
func ParseCause(s string) (Cause, bool) {
	var c Cause
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.Reason == "" {
		return Cause{}, false
	}
	c.Reason = worker.SanitizeReason(c.Reason)
	return c, true
}

// permanent is a permanent failure with its reason code: a
// worker.PermanentError, the one convention every transport reads.
func permanent(reason string, err error) error {
	return worker.Permanent(err, reason)
}

// errNotRecorded is wrapped by a refusal whose security event could not be
// recorded: Step Functions is not answered, so the task comes back
// (ReasonNotRecorded).
var errNotRecorded = errors.New("sfntask: security event not recorded, not answered")

// Classify names a stage failure: outcome.Classify, the classifier the
// SQS worker uses too, read into the error names the definitions retry and
// catch.
func Classify(stage Stage, err error) Failure {
	f := Failure{Stage: stage}
	v := outcome.Classify(err)
	switch {
	case errors.Is(err, breaker.ErrOpen):
		f.Name = ErrorBreakerOpen
	case v.Class == outcome.Rejected:
		f.Name = ErrorEnvelopeRejected
	case v.Class == outcome.Permanent:
		f.Name = ErrorPermanent
	case v.Class == outcome.Throttled:
		f.Name = ErrorThrottled
	default:
		f.Name = ErrorTransient
	}
	f.Reason = v.Reason
	return f
}
