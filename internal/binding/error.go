package binding

import "fmt"

// Kind says what a failure to establish an event's tenant means.
type Kind uint8

// Kinds of failures.
const (
	// KindRejected: the envelope (or its absence) was judged and refused.
	// Permanent; a security event in the worker. Reason is an
	// envelope.Reason value or ReasonMissingEnvelope.
	KindRejected Kind = iota + 1
	// KindNotServed: the event is about a bucket outside the allowlist
	// (ReasonUnknownBucket). Permanent, but no verdict on any envelope.
	KindNotServed
	// KindStale: S3 no longer agrees with the event: an ObjectCreated event
	// for an object gone since (ReasonObjectUnavailable), an ObjectRemoved
	// event for an object that exists again (ReasonObjectExists). There is
	// nothing to do for it.
	KindStale
	// KindUnavailable: the event could not be judged now (S3 or the
	// verification keys unreachable, context done): try again later.
	// Reason is ReasonObjectUnavailable or ReasonKeysUnavailable.
	KindUnavailable
	// KindIgnored: the event needs no tenant (event.KindIgnore); Reason is
	// its ignore code, or event.ReasonUnsupported.
	KindIgnored
)

func (k Kind) String() string {
	switch k {
	case KindRejected:
		return "rejected"
	case KindNotServed:
		return "not_served"
	case KindStale:
		return "stale"
	case KindUnavailable:
		return "unavailable"
	case KindIgnored:
		return "ignored"
	}
	return "unknown"
}

// Reason codes of this package, besides the envelope's own rejection codes
// (envelope.Reason values such as "expired" or "binding_mismatch"). They are
// stable: dead-letter attributes, security events, metrics and docs use them.
const (
	// ReasonMissingEnvelope: the uploaded object has no
	// x-amz-meta-tenantry-envelope (KindRejected).
	ReasonMissingEnvelope = "missing_envelope"
	// ReasonUnknownBucket: an event of a bucket not in the allowlist
	// (KindNotServed).
	ReasonUnknownBucket = "unknown_bucket"
	// ReasonObjectUnavailable: the object whose metadata carries the
	// envelope is gone (KindStale), or S3 could not be asked
	// (KindUnavailable).
	ReasonObjectUnavailable = "object_unavailable"
	// ReasonObjectExists: a removal event for an object that exists (again)
	// (KindStale).
	ReasonObjectExists = "object_exists"
	// ReasonEnvelopeMismatch: an execution input carried an envelope that
	// is not byte-identical to the object's (KindRejected).
	ReasonEnvelopeMismatch = "envelope_mismatch"
	// ReasonKeysUnavailable: the verification keys could not be loaded, or
	// the context ended, before the envelope was judged (KindUnavailable).
	ReasonKeysUnavailable = "keys_unavailable"
)

// Error is an event whose tenant was not established. Its text never
// carries tokens, claims or bodies.
type Error struct {
	Kind Kind
	// Code is the stable reason code (see Kind for which codes go with
	// which kind).
	Code string
	// Err is the cause, if any: an *envelope.Error, an S3 error (wrapping
	// objects.ErrNotFound for a gone object), envelope.ErrKeysUnavailable, a
	// context error, or a fixed description.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("binding: %s (%s): %v", e.Kind, e.Code, e.Err)
	}
	return fmt.Sprintf("binding: %s (%s)", e.Kind, e.Code)
}

// Reason is the stable reason code: tenantry's one convention, read by
// internal/outcome.Classify, the worker, the Step Functions tasks and the
// DLQ tools alike.
func (e *Error) Reason() string { return e.Code }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
