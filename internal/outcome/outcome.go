// Package outcome is tenantry's one reason vocabulary and its one
// classifier. Every refusal or failure, on every transport, is an error that
// reports Reason() (and, through worker.WithStage or pipeline.StageError,
// its stage); Classify reads any such error into a Verdict that the SQS
// worker (internal/ingest), the Step Functions tasks (internal/sfntask) and
// the DLQ tools map to their own outcome. Codes lists every reason code
// with its class and meaning; docs/reasons.md is generated from it and a
// test keeps the two equal.
//
// It never logs, and never puts document text, tokens or claims in a
// Verdict.
package outcome

import (
	"context"
	"errors"
	"time"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
)

// Class says what a failure means for the input that caused it.
type Class uint8

// Classes.
const (
	// Transient: retry later (network, 5xx, database restart, keys
	// unreachable, a timeout).
	Transient Class = iota + 1
	// Throttled: a remote side asked us to slow down; RetryAfter says how
	// long.
	Throttled
	// Permanent: the same input can never succeed (dead-letter it, mark
	// the document failed).
	Permanent
	// Rejected: the envelope was judged and refused. Permanent, and a
	// security event; nothing is written to tenant tables.
	Rejected
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Throttled:
		return "throttled"
	case Permanent:
		return "permanent"
	case Rejected:
		return "rejected"
	}
	return "unknown"
}

// Verdict is a classified failure.
type Verdict struct {
	Class      Class
	Reason     string // a code of Codes (sanitized)
	Stage      string // where it happened, if known
	RetryAfter time.Duration
}

// Reason codes this package assigns (the others come from the errors
// themselves: see Codes).
const (
	ReasonObjectNotFound = "object_not_found"
	ReasonAccessDenied   = "access_denied"
	ReasonRLSViolation   = "rls_violation"
	ReasonThrottled      = "throttled"
)

type reasoner interface{ Reason() string }

// Classify reads err. nil gives the zero Verdict.
func Classify(err error) Verdict {
	if err == nil {
		return Verdict{}
	}
	v := Verdict{Stage: stageOf(err)}
	var (
		be *binding.Error
		te *pipeline.TransientError
		rj rejection
	)
	switch {
	case worker.IsPermanent(err):
		// An explicit verdict, the outermost, wins.
		v.Class, v.Reason = Permanent, worker.ReasonOf(err)
	case errors.As(err, &be) && be.Kind == binding.KindRejected:
		v.Class, v.Reason = Rejected, be.Reason()
	case errors.As(err, &be) && be.Kind == binding.KindUnavailable:
		v.Class, v.Reason = Transient, be.Reason()
	case errors.As(err, &be):
		v.Class, v.Reason = Permanent, be.Reason()
	case errors.As(err, &rj):
		// A verdict of the envelope package itself (the gate wraps it).
		v.Class, v.Reason = Rejected, rj.Reason()
	case pipeline.IsPermanent(err):
		v.Class, v.Reason = Permanent, pipeline.Reason(err)
	case errors.Is(err, objects.ErrNotFound):
		v.Class, v.Reason, v.Stage = Permanent, ReasonObjectNotFound, or(v.Stage, "fetch")
	case errors.Is(err, objects.ErrAccessDenied):
		v.Class, v.Reason, v.Stage = Permanent, ReasonAccessDenied, or(v.Stage, "fetch")
	case tenantdb.IsRLSViolation(err):
		// A bug, not bad luck: never retry a cross-tenant write.
		v.Class, v.Reason, v.Stage = Permanent, ReasonRLSViolation, or(v.Stage, "store")
	case errors.As(err, &te) && te.RetryAfter > 0:
		v.Class, v.Reason, v.RetryAfter = Throttled, ReasonThrottled, te.RetryAfter
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, worker.ErrHandlerTimeout):
		v.Class, v.Reason = Transient, worker.ReasonTimeout
	default:
		v.Class, v.Reason = Transient, worker.ReasonTransient
		var r reasoner
		if errors.As(err, &r) && r.Reason() != "" {
			v.Reason = r.Reason()
		}
	}
	v.Reason = worker.SanitizeReason(v.Reason)
	return v
}

func stageOf(err error) string {
	if s := worker.StageOf(err); s != "" {
		return s
	}
	return pipeline.StageOf(err)
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// rejection is a verifier's verdict on credentials (*envelope.Error): judged
// and refused, with its reason code. An interface, so that the classifier
// every transport shares does not depend on the envelope package.
type rejection interface {
	Reason() string
	Rejection()
}
