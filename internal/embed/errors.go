package embed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tenantry/tenantry/pipeline"
)

// StatusError is a provider's non-success HTTP answer. Providers return it
// (wrapped or not) so the retry policy can classify the failure; it carries
// no response body.
type StatusError struct {
	Status     int
	Code       string        // the provider's error type, e.g. "ThrottlingException" (may be empty)
	RetryAfter time.Duration // from Retry-After / retry-after-ms (0: none)
}

func (e *StatusError) Error() string {
	s := "embedding provider answered HTTP " + strconv.Itoa(e.Status)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	return s
}

// Throttled reports a "slow down" answer: 429, or 503/529 (overloaded).
func (e *StatusError) Throttled() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable || e.Status == 529
}

// Retryable reports answers worth sending again: throttling, 408, 5xx.
func (e *StatusError) Retryable() bool {
	return e.Throttled() || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// ErrBadResponse marks a 2xx answer that cannot be used: not parseable, the
// wrong number of vectors, the wrong dimension, non-finite values.
var ErrBadResponse = errors.New("embedding provider returned an unusable response")

// BadResponse wraps ErrBadResponse with a fixed reason (no response text).
func BadResponse(reason string) error { return fmt.Errorf("%w: %s", ErrBadResponse, reason) }

// errAttemptTimeout is the cause of a per-attempt deadline.
var errAttemptTimeout = errors.New("embed: attempt timed out")

type class int

const (
	classRetry     class = iota // send again after a backoff
	classThrottle               // send again after a backoff; slow down
	classPermanent              // the provider refused the input: pipeline.ErrRejected
	classFatal                  // do not retry here; the message may be retried later
)

// classify decides what to do after a failed attempt. parent is the
// caller's context, attempt the attempt's.
func classify(parent, attempt context.Context, err error) class {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		switch {
		case se.Throttled():
			return classThrottle
		case se.Retryable():
			return classRetry
		}
		return classPermanent
	case parent.Err() != nil:
		return classFatal
	case errors.Is(context.Cause(attempt), errAttemptTimeout), errors.Is(err, context.DeadlineExceeded):
		return classRetry
	case errors.Is(err, ErrBadResponse):
		return classFatal
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return classRetry
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return classRetry
	}
	return classFatal
}

// ParseRetryAfter reads a provider's wait hint: retry-after-ms (Azure
// OpenAI and others, milliseconds) or Retry-After (seconds or an HTTP date).
// It returns 0 when there is none or it cannot be parsed.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < 1e9 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || s > 1e6 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func rejected(err error) error {
	return fmt.Errorf("%w: %w", pipeline.ErrRejected, err)
}
