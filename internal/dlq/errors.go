package dlq

import (
	"errors"
	"fmt"

	"github.com/tenantry/tenantry/internal/binding"
)

var (
	// ErrInvalidConfig is wrapped by the constructors' validation errors.
	ErrInvalidConfig = errors.New("dlq: invalid config")
	// ErrUnverified matches every *UnverifiedError: the message's tenant
	// could not be established from a verified envelope.
	ErrUnverified = errors.New("dlq: message not verified")
	// ErrUnsupported means the SQS server does not implement an operation
	// (fauxqs has no message-move tasks and no ListDeadLetterSourceQueues).
	ErrUnsupported = errors.New("dlq: operation not supported by this SQS server")
	// ErrNoSourceQueue means no queue names the DLQ in its redrive policy, so
	// a replay needs an explicit target.
	ErrNoSourceQueue = errors.New("dlq: no source queue found for this DLQ")
	// ErrAmbiguousSourceQueue means several queues use the DLQ; a replay
	// needs an explicit target.
	ErrAmbiguousSourceQueue = errors.New("dlq: several source queues use this DLQ")
)

// Reason codes for messages whose tenant could not be established, besides
// the envelope's own rejection codes (envelope.Reason values such as
// "expired" or "bad_signature"), internal/event's decoding codes
// ("malformed_event", "malformed_envelope", ...) and its ignore codes
// ("s3_test_event", "unhandled_event_type"). All but ReasonMixedTenants are
// internal/binding's codes, shared with the worker.
const (
	// ReasonNoEnvelope: the uploaded object has no
	// x-amz-meta-tenantry-envelope (the worker's code for it as well).
	ReasonNoEnvelope = binding.ReasonMissingEnvelope
	// ReasonObjectUnavailable: the uploaded object (whose metadata carries
	// the envelope) is gone, or S3 could not be asked (then Temporary).
	ReasonObjectUnavailable = binding.ReasonObjectUnavailable
	// ReasonObjectExists: a removal event for an object that exists (again):
	// the worker ignores it.
	ReasonObjectExists = binding.ReasonObjectExists
	// ReasonUnknownBucket: an event of a bucket the resolver does not serve.
	ReasonUnknownBucket = binding.ReasonUnknownBucket
	// ReasonKeysUnavailable: the verification keys could not be loaded; the
	// envelope was not judged (retry later).
	ReasonKeysUnavailable = binding.ReasonKeysUnavailable
	// ReasonMixedTenants: one message holds events of several tenants.
	ReasonMixedTenants = "mixed_tenants"
)

// UnverifiedError says why a message's tenant could not be established. Its
// text never carries tokens, claims or bodies.
type UnverifiedError struct {
	// Reason is a stable code: an envelope.Reason or one of the Reason*
	// constants of this package.
	Reason string
	// Temporary is true when judging again later may succeed (keys or the
	// object store were unavailable); false for a rejection.
	Temporary bool
	// Err is the underlying error (an *envelope.Error, an S3 error), if any.
	Err error
}

func (e *UnverifiedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("dlq: message not verified (%s): %v", e.Reason, e.Err)
	}
	return fmt.Sprintf("dlq: message not verified (%s)", e.Reason)
}

// Unwrap returns the underlying error.
func (e *UnverifiedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnverified) true.
func (e *UnverifiedError) Is(target error) bool { return target == ErrUnverified }

// UnverifiedReason returns the reason code of an *UnverifiedError in err's
// chain, or "" if there is none.
func UnverifiedReason(err error) string {
	var ue *UnverifiedError
	if errors.As(err, &ue) {
		return ue.Reason
	}
	return ""
}
