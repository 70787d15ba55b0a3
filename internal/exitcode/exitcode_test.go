package exitcode_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/exitcode"
)

func TestOf(t *testing.T) {
	t.Parallel()
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitcode.OK},
		{"plain", errors.New("boom"), exitcode.Failure},
		{"usage", exitcode.Usagef("bad --tenant %q", "x"), exitcode.Usage},
		{"usage wrapped", fmt.Errorf("run: %w", exitcode.AsUsage(errors.New("no region"))), exitcode.Usage},
		{"explicit refusal", exitcode.AsRefused(errors.New("2 messages refused")), exitcode.Refused},
		{"envelope check refused", fmt.Errorf("verify: %w", envelope.ErrRefused), exitcode.Refused},
		{"envelope rejected", &envelope.Error{Code: envelope.ReasonExpired}, exitcode.Refused},
		{"audit chain broken", audit.ErrChainsBroken, exitcode.Refused},
		{"connection refused", fmt.Errorf("send: %w", dial), exitcode.Unreachable},
		{"dns", &net.DNSError{Err: "no such host", Name: "sqs.invalid", IsNotFound: true}, exitcode.Unreachable},
		{"read reset is not unreachable", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, exitcode.Failure},
		{"cancelled", fmt.Errorf("%w: %w", context.Canceled, dial), exitcode.Failure},
		{"timeout", context.DeadlineExceeded, exitcode.Failure},
	} {
		if got := exitcode.Of(tc.err); got != tc.want {
			t.Errorf("%s: Of = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestTableIsComplete(t *testing.T) {
	t.Parallel()
	seen := map[int]bool{}
	for _, row := range exitcode.Table {
		if seen[row.Code] || row.Name == "" || row.Meaning == "" {
			t.Errorf("bad row %+v", row)
		}
		seen[row.Code] = true
	}
	for _, c := range []int{exitcode.OK, exitcode.Failure, exitcode.Usage, exitcode.Refused, exitcode.Unreachable} {
		if !seen[c] {
			t.Errorf("code %d is not in Table", c)
		}
	}
}

func ExampleOf() {
	err := fmt.Errorf("envelope verify: %w", envelope.ErrRefused)
	fmt.Println(exitcode.Of(err), exitcode.Of(exitcode.Usagef("unknown flag --x")), exitcode.Of(nil))
	// Output: 3 2 0
}
