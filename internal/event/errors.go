package event

import (
	"errors"
	"fmt"
)

// Sentinels to branch on with errors.Is. Every decoding error wraps one.
var (
	ErrMalformed      = errors.New("malformed event")
	ErrUnsupported    = errors.New("unsupported event")
	ErrTooLarge       = errors.New("event too large")
	ErrBadKeyEncoding = errors.New("bad object key encoding")
)

// Reason codes (stable; used as metric labels and DLQ attributes).
const (
	ReasonMalformed         = "malformed_event"
	ReasonUnsupported       = "unsupported_event"
	ReasonUnsupportedJob    = "unsupported_job"
	ReasonMalformedEnvelope = "malformed_envelope"
	ReasonTooLarge          = "too_large"
	ReasonBadKeyEncoding    = "bad_key_encoding"
)

// Error is a decoding failure. Detail never contains body contents.
type Error struct {
	reason string
	err    error // one of the sentinels
	detail string
}

func (e *Error) Error() string { return "event: " + e.reason + ": " + e.detail }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.err }

// Reason is the stable reason code (worker.ReasonOf finds it).
func (e *Error) Reason() string { return e.reason }

func newError(reason string, sentinel error, format string, args ...any) *Error {
	return &Error{reason: reason, err: sentinel, detail: fmt.Sprintf(format, args...)}
}

func malformed(format string, args ...any) *Error {
	return newError(ReasonMalformed, ErrMalformed, format, args...)
}

func unsupported(format string, args ...any) *Error {
	return newError(ReasonUnsupported, ErrUnsupported, format, args...)
}

// ReasonOf returns the reason code of a decoding error, "" if err is not one.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.reason
	}
	return ""
}
