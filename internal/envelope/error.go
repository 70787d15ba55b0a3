package envelope

import (
	"errors"
	"fmt"
)

// Reason is the stable, machine-readable code of a rejected envelope. It is
// what the worker records as a security event and attaches to dead-lettered
// messages, so values never change meaning once released.
type Reason string

// Reason codes. docs/envelope.md describes each one.
const (
	// ReasonMalformed: not a compact JWS, bad base64url, bad or ambiguous
	// JSON (duplicate or case-variant names), unexpected header parameters,
	// a missing or ill-typed claim.
	ReasonMalformed Reason = "malformed"
	// ReasonTooLarge: the token is longer than Config.MaxTokenBytes.
	ReasonTooLarge Reason = "too_large"
	// ReasonAlgNotAllowed: alg is missing or not ES256/EdDSA (none, HS*, RS*, ...).
	ReasonAlgNotAllowed Reason = "alg_not_allowed"
	// ReasonAlgMismatch: alg is allowed but is not the algorithm of the key
	// named by kid (algorithm confusion).
	ReasonAlgMismatch Reason = "alg_mismatch"
	// ReasonUnknownKey: kid is missing or names no key in the key ring.
	ReasonUnknownKey Reason = "unknown_key"
	// ReasonBadSignature: the signature does not verify with the named key.
	ReasonBadSignature Reason = "bad_signature"
	// ReasonExpired: exp (plus leeway) is in the past.
	ReasonExpired Reason = "expired"
	// ReasonNotYetValid: nbf or iat (minus leeway) is in the future.
	ReasonNotYetValid Reason = "not_yet_valid"
	// ReasonLifetimeExceeded: exp - iat is longer than Config.MaxLifetime.
	ReasonLifetimeExceeded Reason = "lifetime_exceeded"
	// ReasonWrongAudience: aud does not contain Config.Audience.
	ReasonWrongAudience Reason = "wrong_audience"
	// ReasonWrongIssuer: iss is not one of Config.Issuers.
	ReasonWrongIssuer Reason = "wrong_issuer"
	// ReasonBadTenant: tid is missing, not a canonical lower-case UUID, or nil.
	ReasonBadTenant Reason = "bad_tenant"
	// ReasonBadAction: act is not ingest, reindex, delete or purge.
	ReasonBadAction Reason = "bad_action"
	// ReasonWrongAction: act is valid but not the action this use allows
	// (an object upload needs ingest; Verified.RequireAction).
	ReasonWrongAction Reason = "wrong_action"
	// ReasonBindingMismatch: the signed resource is not exactly
	// s3://bucket/key of the object, or the key is not under {tid}/.
	ReasonBindingMismatch Reason = "binding_mismatch"
	// ReasonBodyHashMismatch: bh is missing or is not the SHA-256 of the job body.
	ReasonBodyHashMismatch Reason = "body_hash_mismatch"
	// ReasonNonCanonicalKey: an object key (of the event, the job or the
	// signed resource) is not canonical: not exactly
	// {tenant}/{document}/{filename}, a dot segment, a backslash, a control
	// character, a percent-escaped separator, not NFC, or too long
	// (ParseObjectKey). Refused whatever the envelope says.
	ReasonNonCanonicalKey Reason = "noncanonical_key"
)

// Reasons lists every reason code, for metrics and documentation.
func Reasons() []Reason {
	return []Reason{
		ReasonMalformed, ReasonTooLarge, ReasonAlgNotAllowed, ReasonAlgMismatch,
		ReasonUnknownKey, ReasonBadSignature, ReasonExpired, ReasonNotYetValid,
		ReasonLifetimeExceeded, ReasonWrongAudience, ReasonWrongIssuer,
		ReasonBadTenant, ReasonBadAction, ReasonWrongAction,
		ReasonBindingMismatch, ReasonBodyHashMismatch, ReasonNonCanonicalKey,
	}
}

// ErrRejected matches every *Error with errors.Is: the envelope was looked at
// and refused. Rejections are permanent; retrying the same envelope cannot help.
var ErrRejected = errors.New("envelope: rejected")

// ErrKeysUnavailable means the key source could not answer (JWKS endpoint or
// KMS down, not loaded yet). The envelope was not judged: retry later. It is
// never an *Error, so ReasonOf returns "".
var ErrKeysUnavailable = errors.New("envelope: signing keys unavailable")

// ErrUnknownKey is returned by a KeySource that has no key with the asked id.
var ErrUnknownKey = errors.New("envelope: unknown key id")

// Error is a rejected envelope. Its message is generic by design: it never
// carries token contents, claims or key material, only the reason and a
// fixed description.
type Error struct {
	Code Reason
	// Detail is a fixed, generic description (never token contents).
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("envelope: rejected (%s)", e.Code)
	}
	return fmt.Sprintf("envelope: rejected (%s): %s", e.Code, e.Detail)
}

// Reason is the stable reason code: tenantry's one convention, read by
// internal/outcome.Classify and worker.ReasonOf.
func (e *Error) Reason() string { return string(e.Code) }

// Rejection marks a verdict: the envelope was judged and refused (read by
// internal/outcome.Classify without importing this package).
func (e *Error) Rejection() {}

// Is makes errors.Is(err, ErrRejected) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrRejected }

// ReasonOf returns the reason code of an envelope rejection anywhere in err's
// chain, or "" if err is nil or not a rejection (e.g. ErrKeysUnavailable,
// context cancellation).
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason()
	}
	return ""
}

func reject(r Reason, detail string) error { return &Error{Code: r, Detail: detail} }
