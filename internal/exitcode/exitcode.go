package exitcode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/envelope"
)

// The exit codes of tenantry (docs/configuration.md lists them).
const (
	// OK: the command did what was asked.
	OK = 0
	// Failure: any other failure (a server error, a bug, a timeout).
	Failure = 1
	// Usage: the command line or the configuration is wrong (unknown or
	// missing flag, bad value, no AWS region); nothing was done.
	Usage = 2
	// Refused: the command ran and the answer is "no": an envelope failed
	// verification, an audit chain is broken, a replay refused messages.
	Refused = 3
	// Unreachable: a server (database, AWS endpoint, JWKS URL) could not
	// be reached at all: retrying later may help.
	Unreachable = 4
)

// Table is every code with its meaning, for docs and tests.
var Table = []struct {
	Code    int
	Name    string
	Meaning string
}{
	{OK, "ok", "the command did what was asked"},
	{Failure, "failure", "any other failure (server error, timeout, partial replay)"},
	{Usage, "usage", "bad command line or configuration (unknown or missing flag, bad value, no AWS region); nothing was done"},
	{Refused, "refused", "verification failed: an envelope was refused, an audit chain is broken, a replay or start refused messages"},
	{Unreachable, "unreachable", "a server (database, AWS endpoint, JWKS URL) could not be reached; retry later"},
}

// Error carries an explicit exit code for its cause.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// ExitCode implements kong's ExitCoder.
func (e *Error) ExitCode() int { return e.Code }

// Usagef is a usage error (exit 2).
func Usagef(format string, args ...any) error {
	return &Error{Code: Usage, Err: fmt.Errorf(format, args...)}
}

// AsUsage marks err as a usage error (exit 2); nil stays nil.
func AsUsage(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: Usage, Err: err}
}

// AsRefused marks err as a refusal (exit 3); nil stays nil.
func AsRefused(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: Refused, Err: err}
}

// Of classifies err: an explicit *Error keeps its code; a refused or
// rejected envelope and a broken audit chain are Refused; a failed
// connection (refused, reset, no route, DNS) is Unreachable; anything
// else is Failure. nil is OK.
func Of(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, envelope.ErrRefused) || errors.Is(err, envelope.ErrRejected) || errors.Is(err, audit.ErrChainsBroken) {
		return Refused
	}
	if unreachable(err) {
		return Unreachable
	}
	return Failure
}

func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}
