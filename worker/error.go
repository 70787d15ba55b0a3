package worker

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Reason codes the runner assigns itself. Handlers choose their own codes for
// permanent failures (Permanent's reason) or through errors with a
// Reason() string method.
const (
	ReasonPermanent   = "permanent"    // Permanent with no reason anywhere in the chain
	ReasonTransient   = "transient"    // a plain error
	ReasonRetryAfter  = "retry_after"  // RetryAfter with no reason in the chain
	ReasonPanic       = "panic"        // the handler panicked
	ReasonTimeout     = "timeout"      // the Timeout middleware's deadline, or a context deadline
	ReasonCanceled    = "canceled"     // the handler returned context.Canceled
	ReasonMaxReceives = "max_receives" // dead-lettered after Config.MaxReceiveCount receives
)

// PermanentError marks a failure that can never succeed on retry (a malformed
// event, a forged envelope, an unsupported document). The runner
// dead-letters the message with Reason.
type PermanentError struct {
	Err    error
	reason string
}

// Permanent marks err as permanent with a stable, text-free reason code (it
// becomes the tenantry-reason attribute and a metric label; see
// SanitizeReason). An empty reason takes the code of the first error in
// err's chain with a Reason() string method, else "permanent".
// Permanent(nil, reason) still returns an error: it never acks.
func Permanent(err error, reason string) error {
	if err == nil {
		err = errors.New(orDefault(reason, ReasonPermanent))
	}
	if reason == "" {
		var r reasoner
		if errors.As(err, &r) {
			reason = r.Reason()
		}
	}
	return &PermanentError{Err: err, reason: SanitizeReason(orDefault(reason, ReasonPermanent))}
}

func (e *PermanentError) Error() string { return "permanent (" + e.reason + "): " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Reason is the stable reason code.
func (e *PermanentError) Reason() string { return e.reason }

// RetryAfterError asks for the message to come back after Delay (rounded up
// to the source's granularity: whole seconds for SQS, at most 12 hours). It
// counts as a receive like any retry.
type RetryAfterError struct {
	Delay time.Duration
	Err   error
}

// RetryAfter asks for the message to be retried after d (a remote side's
// Retry-After, a rate limit). RetryAfter(d, nil) still returns an error.
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		err = errors.New("retry later")
	}
	return &RetryAfterError{Delay: max(d, 0), Err: err}
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %s: %v", e.Delay, e.Err)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// PanicError is a panic in a handler, recovered by the runner or by the
// Recoverer middleware. It is retried like a transient error until
// MaxReceiveCount, then dead-lettered.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return "handler panicked: " + TruncateText(fmt.Sprint(e.Value), 200)
}

// Reason is "panic".
func (e *PanicError) Reason() string { return ReasonPanic }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// ErrHandlerTimeout is the cause when the Timeout middleware's deadline
// passed; errors returned after it wrap it (reason "timeout").
var ErrHandlerTimeout = errors.New("worker: handler timed out")

type reasoner interface{ Reason() string }

// ReasonOf returns a stable reason code for err: "" for nil; the Reason() of
// the outermost error in the chain that has one (PermanentError, PanicError,
// and any error type of yours); otherwise "retry_after", "timeout",
// "canceled" or "transient". The result is sanitized (SanitizeReason).
func ReasonOf(err error) string {
	if err == nil {
		return ""
	}
	var r reasoner
	if errors.As(err, &r) {
		return SanitizeReason(r.Reason())
	}
	var ra *RetryAfterError
	switch {
	case errors.As(err, &ra):
		return ReasonRetryAfter
	case errors.Is(err, ErrHandlerTimeout), errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	}
	return ReasonTransient
}

// IsPermanent reports whether err is (or wraps) a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryDelay returns the delay a RetryAfterError in err's chain asks for.
func RetryDelay(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.Delay, true
	}
	return 0, false
}

// stageError attaches the processing stage to an error.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }
func (e *stageError) Stage() string { return e.stage }

// WithStage records where processing failed ("envelope", "extract",
// "embed"...); it becomes the tenantry-stage attribute if the message is
// dead-lettered. It does not change the outcome: wrap it in Permanent (or
// wrap a Permanent in it) as needed. WithStage(nil, s) is nil.
func WithStage(err error, stage string) error {
	if err == nil {
		return nil
	}
	return &stageError{stage: SanitizeReason(stage), err: err}
}

// StageOf returns the stage of the outermost error in err's chain with a
// Stage() string method, or "".
func StageOf(err error) string {
	var s interface{ Stage() string }
	if errors.As(err, &s) {
		return s.Stage()
	}
	return ""
}
