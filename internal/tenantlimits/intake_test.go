package tenantlimits_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/tenantlimits"
)

// waitHeld waits until in holds n messages.
func waitHeld(t *testing.T, in *tenantlimits.Intake, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for in.Held() != n {
		if time.Now().After(deadline) {
			t.Fatalf("held %d, want %d", in.Held(), n)
		}
		runtime.Gosched()
	}
}

// enter starts Enter in a goroutine; the channel gets its ticket.
func enter(ctx context.Context, in *tenantlimits.Intake, hint string) <-chan *tenantlimits.Ticket {
	ch := make(chan *tenantlimits.Ticket, 1)
	go func() {
		tk, err := in.Enter(ctx, hint)
		if err != nil {
			close(ch)
			return
		}
		ch <- tk
	}()
	return ch
}

func mustEnter(t *testing.T, in *tenantlimits.Intake, hint string) *tenantlimits.Ticket {
	t.Helper()
	tk, err := in.Enter(context.Background(), hint)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestIntakePassesWithoutHoldingWhenThereIsRoom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    *tenantlimits.Intake
		hints []string
	}{
		{"nil intake", nil, []string{"a", "a", "a"}},
		{"no hint", tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 10}), []string{"", "", ""}},
		{"under pass", tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 3, Hold: 10}), []string{"a", "a", "a"}},
		{"different tenants", tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 10}), []string{"a", "b", "c"}},
		{"hold 0 holds nothing", tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1}), []string{"a", "a", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, h := range tt.hints {
				mustEnter(t, tt.in, h) // would block forever if held
			}
			if got := tt.in.Held(); got != 0 {
				t.Fatalf("held %d", got)
			}
		})
	}
}

// A backlogged tenant's messages wait, unverified, and pass oldest first as
// its earlier ones get slots; another tenant's message is never held behind
// them.
func TestIntakeHoldsABackloggedTenantInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 2, Hold: 10})
	first, second := mustEnter(t, in, "a"), mustEnter(t, in, "a")
	var held []<-chan *tenantlimits.Ticket
	for i := range 3 {
		held = append(held, enter(ctx, in, "a"))
		waitHeld(t, in, i+1)
	}
	mustEnter(t, in, "b") // not behind a's backlog
	first.Done()
	first.Done() // idempotent: frees one place only
	t1 := <-held[0]
	waitHeld(t, in, 2)
	second.Done()
	t2 := <-held[1]
	waitHeld(t, in, 1)
	select {
	case <-held[2]:
		t.Fatal("the third held message passed while two of its tenant were past the intake")
	default:
	}
	t1.Done()
	t3 := <-held[2]
	waitHeld(t, in, 0)
	t2.Done()
	t3.Done()
	// Everything done: a new message of a passes at once.
	mustEnter(t, in, "a").Done()
}

// The hold is bounded: once Hold messages wait, the next message passes (to
// the durable path) instead of being held, whatever tenant its key names.
// A flood of messages forged under a victim's key prefix can therefore
// neither grow memory without bound nor block the poller.
func TestIntakeHoldIsBounded(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 3})
	mustEnter(t, in, "victim")
	for i := range 3 {
		_ = enter(ctx, in, "victim")
		waitHeld(t, in, i+1)
	}
	mustEnter(t, in, "victim") // full: passes
	mustEnter(t, in, "other")
	if got := in.Held(); got != 3 {
		t.Fatalf("held %d, want 3", got)
	}
}

func TestIntakeWaitIsBounded(t *testing.T) {
	t.Parallel()
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 3, MaxWait: 20 * time.Millisecond})
	mustEnter(t, in, "a") // never done
	tk := mustEnter(t, in, "a")
	if got := in.Held(); got != 0 {
		t.Fatalf("held %d after the wait ended", got)
	}
	tk.Done()
}

// MaxWait bounds a wait without progress, not a backlog: while the held
// tenant's earlier messages keep getting slots (one every quarter of
// MaxWait here), its held messages stay held, in order, one passing per
// slot, though the last waits twice MaxWait in all. Without that, a large
// backlog would reach MaxWait at once and flood the durable path.
func TestIntakeWaitCountsFromTheTenantsLastProgress(t *testing.T) {
	t.Parallel()
	const maxWait, held = 400 * time.Millisecond, 8
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: held, MaxWait: maxWait})
	running := mustEnter(t, in, "a")
	var waiting []<-chan *tenantlimits.Ticket
	for i := range held {
		waiting = append(waiting, enter(context.Background(), in, "a"))
		waitHeld(t, in, i+1)
	}
	tick := time.NewTicker(maxWait / 4)
	defer tick.Stop()
	for i := range held {
		<-tick.C
		if got := in.Held(); got != held-i {
			t.Fatalf("step %d: held %d, want %d: messages left while their tenant was moving", i, got, held-i)
		}
		running.Done()
		running = <-waiting[i]
		if running == nil {
			t.Fatalf("step %d: the held message ended without a ticket", i)
		}
	}
	running.Done()
	waitHeld(t, in, 0)
}

// A message cancelled while held ends with the context's cause and gives
// its place back.
func TestIntakeCancelWhileHeld(t *testing.T) {
	t.Parallel()
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 3})
	first := mustEnter(t, in, "a")
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("draining")
	errc := make(chan error, 1)
	go func() {
		_, err := in.Enter(ctx, "a")
		errc <- err
	}()
	waitHeld(t, in, 1)
	cancel(stop)
	if err := <-errc; !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the cause", err)
	}
	waitHeld(t, in, 0)
	first.Done()
	mustEnter(t, in, "a").Done() // nothing left behind
}

// Closing (the worker drains) sends every held message back at once, with
// ErrIntakeClosed, and holds nothing afterwards.
func TestIntakeCloseReleasesHeldMessages(t *testing.T) {
	t.Parallel()
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 3})
	mustEnter(t, in, "a")
	errc := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, err := in.Enter(context.Background(), "a")
			errc <- err
		}()
		waitHeld(t, in, i+1)
	}
	in.Close()
	in.Close()
	for range 2 {
		if err := <-errc; !errors.Is(err, tenantlimits.ErrIntakeClosed) {
			t.Fatalf("err = %v, want ErrIntakeClosed", err)
		}
	}
	waitHeld(t, in, 0)
	mustEnter(t, in, "a") // closed: passes, never held
}

func ExampleIntake() {
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 4, Hold: 256})
	// hint: the tenant the message's object key names, not yet verified.
	tk, err := in.Enter(context.Background(), "8f0c1c1e-6f1d-4a8e-9a65-2f1a4d0c9b10")
	if err != nil {
		return // cancelled while held: retry the message later
	}
	defer tk.Done() // also when verification fails
	// ... verify through the gate, wait for a slot, then:
	tk.Done() // the next held message of that tenant may be verified
	// ... run it
}
