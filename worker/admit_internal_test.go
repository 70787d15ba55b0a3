package worker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// countingSource counts the extensions it is asked for; nothing else is
// called.
type countingSource struct {
	Source
	extends atomic.Int64
}

func (s *countingSource) Extend(context.Context, *Message, time.Duration) error {
	s.extends.Add(1)
	return nil
}

// A held delivery that leaves the hold after the heartbeat round picked it
// (started, or given back and about to be nacked) is not extended: the
// extension could land after its Nack.
func TestExtendHeldSkipsDeliveriesThatLeftTheHold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		state int32
		want  int64
	}{
		{name: "still held", state: stateHeld, want: 1},
		{name: "given back", state: stateReleased, want: 0},
		{name: "started", state: stateRunning, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &countingSource{}
			r, err := New(Config{
				Source:  src,
				Handler: HandlerFunc(func(context.Context, *Message) error { return nil }),
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			d := &delivery{msg: &Message{ID: "m", Handle: "h"}}
			d.state.Store(tc.state)
			r.extendHeld(context.Background(), []*delivery{d})
			if got := src.extends.Load(); got != tc.want {
				t.Fatalf("%d extensions, want %d", got, tc.want)
			}
			if !d.ext.TryLock() {
				t.Fatal("the delivery's extension lock is still held")
			}
		})
	}
}
