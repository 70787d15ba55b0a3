package extract

import (
	"errors"
	"fmt"

	"github.com/tenantry/tenantry/pipeline"
)

// Error is a refused document: Class is one of pipeline.ErrUnsupported,
// ErrMalformed, ErrTooLarge or ErrEmpty; Format and Reason say which parser
// refused it and why, in fixed words that never quote the document.
type Error struct {
	Class  error
	Format string // "pdf", "docx", "html", ...
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("extract %s: %s: %v", e.Format, e.Reason, e.Class)
}

// Unwrap returns the pipeline class, so errors.Is(err, pipeline.ErrTooLarge)
// and pipeline.IsPermanent work.
func (e *Error) Unwrap() error { return e.Class }

func tooLarge(format, reason string) error {
	return &Error{Class: pipeline.ErrTooLarge, Format: format, Reason: reason}
}

func malformed(format, reason string) error {
	return &Error{Class: pipeline.ErrMalformed, Format: format, Reason: reason}
}

func unsupported(format, reason string) error {
	return &Error{Class: pipeline.ErrUnsupported, Format: format, Reason: reason}
}

func empty(format string) error {
	return &Error{Class: pipeline.ErrEmpty, Format: format, Reason: "no text"}
}

// errTimeLimit is the cause of the per-document deadline.
var errTimeLimit = errors.New("extract: time limit")
