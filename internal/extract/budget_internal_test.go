package extract

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBudgetExcludesSinkTime: time spent while paused (the pipeline working
// on handed-over sections) does not run the extraction clock down; running
// time does.
func TestBudgetExcludesSinkTime(t *testing.T) {
	t.Parallel()
	const d = 30 * time.Millisecond
	ctx, b := withBudget(context.Background(), d)
	defer b.stop()
	b.pause()
	<-time.After(4 * d) // paused: the budget must not expire
	if ctx.Err() != nil {
		t.Fatal("budget expired while paused")
	}
	b.resume()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("budget never expired while running")
	}
	if !errors.Is(context.Cause(ctx), errTimeLimit) {
		t.Fatalf("cause %v, want the time limit", context.Cause(ctx))
	}
}
