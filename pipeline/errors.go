package pipeline

import (
	"errors"
	"time"
)

// Permanent failure classes: retrying the same input can never succeed. The
// worker sends such messages to the dead-letter queue with the reason.
var (
	ErrUnsupported = errors.New("unsupported media type")
	ErrMalformed   = errors.New("malformed document")
	ErrTooLarge    = errors.New("document exceeds limits")
	ErrEmpty       = errors.New("document has no text")
	// ErrRejected: the embedding provider refused the request with a 4xx
	// other than 408/429 (input too long, invalid, model access denied).
	ErrRejected = errors.New("rejected by the embedding provider")
	// ErrSourceChanged: a reprocessing pinned to a version (Document.PinVersion)
	// fetched other bytes: the object was written over since that version was
	// verified. The stored document is left as it was.
	ErrSourceChanged = errors.New("object changed since the version being reprocessed")
)

// IsPermanent reports whether err wraps one of the permanent classes.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrUnsupported) || errors.Is(err, ErrMalformed) ||
		errors.Is(err, ErrTooLarge) || errors.Is(err, ErrEmpty) || errors.Is(err, ErrRejected) ||
		errors.Is(err, ErrSourceChanged)
}

// Reason is a stable, text-free code for a permanent class ("" if none).
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrUnsupported):
		return "unsupported_media_type"
	case errors.Is(err, ErrMalformed):
		return "malformed_document"
	case errors.Is(err, ErrTooLarge):
		return "document_too_large"
	case errors.Is(err, ErrEmpty):
		return "empty_document"
	case errors.Is(err, ErrRejected):
		return "embedding_rejected"
	case errors.Is(err, ErrSourceChanged):
		return "source_changed"
	}
	return ""
}

// TransientError marks a failure that should be retried later (throttling,
// 5xx, timeouts). RetryAfter is a hint from the remote side (0: none).
type TransientError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *TransientError) Error() string { return "transient: " + e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }
