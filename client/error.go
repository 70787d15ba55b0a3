package client

import (
	"errors"
	"fmt"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/presign"
)

// Errors to branch on with errors.Is.
var (
	// ErrInvalidConfig: the Config given to New is incomplete or out of range.
	ErrInvalidConfig = errors.New("tenantry client: invalid config")
	// ErrInvalidRequest: the caller's input was refused before anything was
	// signed or sent (bad tenant, non-canonical key, bad document id, file
	// name, content type or size, unknown job type). Never worth retrying.
	ErrInvalidRequest = errors.New("tenantry client: invalid request")
	// ErrNotConfigured: the call needs a part of Config that was not given
	// (PresignUpload needs S3 and Bucket; sending jobs needs SQS and QueueURL).
	ErrNotConfigured = errors.New("tenantry client: not configured for this call")
	// ErrUploadRefused matches every *UploadError.
	ErrUploadRefused = presign.ErrRefused
)

// UploadError is S3's refusal of an upload (HTTP status and S3 error code,
// e.g. 403 SignatureDoesNotMatch when a signed header was changed).
type UploadError = presign.UploadError

// SendError is a failed SendMessage: the job was signed but SQS did not
// take it. The same job may be sent again (a new envelope is signed).
type SendError struct {
	QueueURL string
	Err      error
}

func (e *SendError) Error() string {
	return fmt.Sprintf("tenantry client: send job to %s: %v", e.QueueURL, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// SignError is a failed signature (the local key or KMS refused, or the
// envelope would exceed the size budget).
type SignError struct{ Err error }

func (e *SignError) Error() string { return "tenantry client: sign envelope: " + e.Err.Error() }

func (e *SignError) Unwrap() error { return e.Err }

// ErrTokenTooLarge: the envelope would not fit S3's metadata budget
// (shorten the issuer, actor or resource).
var ErrTokenTooLarge = envelope.ErrTokenTooLarge

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidRequest}, args...)...)
}
