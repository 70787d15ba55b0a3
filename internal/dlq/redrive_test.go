package dlq_test

import (
	"errors"
	"testing"

	"github.com/tenantry/tenantry/internal/dlq"
)

// TestRedriveOnAServerWithoutMoveTasks: the local SQS server (fauxqs) has no
// message-move tasks; every Redriver call must say so clearly, not fail
// with a raw protocol error.
func TestRedriveOnAServerWithoutMoveTasks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := dlq.NewRedriver(f.client)
	ctx := opCtx(t)
	_, err := r.Start(ctx, f.dlqURL, "", 10)
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, dlq.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", op, err)
		}
	}
	check("Start", err)
	_, err = r.Start(ctx, f.dlqURL, f.queueURL, 0)
	check("Start with a destination", err)
	_, err = r.List(ctx, f.dlqURL)
	check("List", err)
	_, err = r.Cancel(ctx, "some-handle")
	check("Cancel", err)
	// A missing queue is not "unsupported".
	if _, err := r.Start(ctx, f.dlqURL+"-missing", "", 0); err == nil || errors.Is(err, dlq.ErrUnsupported) {
		t.Errorf("Start on a missing queue: %v", err)
	}
}
