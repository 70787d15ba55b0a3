package tenantlimits_test

import (
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

// enter enters a message that must be held; the channel gets what its pass
// is called with (nil: given back).
func enter(t *testing.T, in *tenantlimits.Intake, hint string) <-chan *tenantlimits.Ticket {
	t.Helper()
	ch := make(chan *tenantlimits.Ticket, 1)
	if _, now := in.Enter(hint, func(tk *tenantlimits.Ticket) { ch <- tk }); now {
		t.Fatalf("a message of %q passed, want it held", hint)
	}
	return ch
}

func mustEnter(t *testing.T, in *tenantlimits.Intake, hint string) *tenantlimits.Ticket {
	t.Helper()
	tk, now := in.Enter(hint, func(*tenantlimits.Ticket) { t.Error("a message that passed was passed again") })
	if !now {
		t.Fatalf("a message of %q was held, want it passed", hint)
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
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 2, Hold: 10})
	first, second := mustEnter(t, in, "a"), mustEnter(t, in, "a")
	var held []<-chan *tenantlimits.Ticket
	for i := range 3 {
		held = append(held, enter(t, in, "a"))
		waitHeld(t, in, i+1)
	}
	if got := in.Holding("a"); got != 3 {
		t.Fatalf("holding %d of a, want 3", got)
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

// Passes are called one at a time, in the order they were decided, never
// from inside another pass: a held message that ends at once (its ticket
// done inside its pass) lets the next through after it, so a long backlog
// passing in a burst neither reorders nor nests.
func TestIntakePassesInOrderWithoutNesting(t *testing.T) {
	t.Parallel()
	const n = 500
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: n})
	first := mustEnter(t, in, "a")
	var (
		order       []int
		depth, most int
	)
	for i := range n {
		if _, now := in.Enter("a", func(tk *tenantlimits.Ticket) {
			depth++
			most = max(most, depth)
			order = append(order, i)
			tk.Done() // ends at once: the next may pass
			depth--
		}); now {
			t.Fatalf("message %d passed", i)
		}
	}
	first.Done()
	if len(order) != n || most != 1 {
		t.Fatalf("%d of %d passed, nested %d deep", len(order), n, most)
	}
	for i, v := range order {
		if v != i {
			t.Fatalf("pass %d was message %d", i, v)
		}
	}
	if in.Held() != 0 || in.Holding("a") != 0 {
		t.Fatalf("held %d", in.Held())
	}
}

// The hold is bounded: once Hold messages wait, the next message passes (to
// the durable path) instead of being held, whatever tenant its key names.
// A flood of messages forged under a victim's key prefix can therefore
// neither grow memory without bound nor block the poller.
func TestIntakeHoldIsBounded(t *testing.T) {
	t.Parallel()
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 3})
	mustEnter(t, in, "victim")
	for i := range 3 {
		_ = enter(t, in, "victim")
		waitHeld(t, in, i+1)
	}
	mustEnter(t, in, "victim") // full: passes
	mustEnter(t, in, "other")
	if got := in.Held(); got != 3 {
		t.Fatalf("held %d, want 3", got)
	}
}

// A message whose tenant has not moved for MaxWait passes anyway, with a
// ticket (to the durable path); its tenant's next message is held again.
func TestIntakeWaitIsBounded(t *testing.T) {
	t.Parallel()
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 3, MaxWait: 20 * time.Millisecond})
	mustEnter(t, in, "a") // never done
	tk := <-enter(t, in, "a")
	if tk == nil {
		t.Fatal("the message was given back, want it passed")
	}
	waitHeld(t, in, 0)
	next := enter(t, in, "a")
	tk.Done()
	if tk := <-next; tk == nil {
		t.Fatal("the next message was given back")
	} else {
		tk.Done()
	}
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
		waiting = append(waiting, enter(t, in, "a"))
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
			t.Fatalf("step %d: the held message was given back", i)
		}
	}
	running.Done()
	waitHeld(t, in, 0)
}

// Closing (the worker drains) gives every held message back at once (its
// pass gets nil), of every tenant, and holds nothing afterwards; tickets
// already out still work.
func TestIntakeCloseGivesHeldMessagesBack(t *testing.T) {
	t.Parallel()
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 3})
	a, b := mustEnter(t, in, "a"), mustEnter(t, in, "b")
	held := []<-chan *tenantlimits.Ticket{enter(t, in, "a"), enter(t, in, "a"), enter(t, in, "b")}
	waitHeld(t, in, 3)
	in.Close()
	in.Close()
	for i, ch := range held {
		if tk := <-ch; tk != nil {
			t.Fatalf("held message %d passed at the close, want it given back", i)
		}
	}
	waitHeld(t, in, 0)
	mustEnter(t, in, "a").Done() // closed: passes, never held
	a.Done()
	b.Done()
}

func ExampleIntake() {
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 4, Hold: 256})
	run := func(tk *tenantlimits.Ticket) {
		if tk == nil {
			return // given back (the worker drains): the message goes back to the queue
		}
		defer tk.Done() // also when verification fails
		// ... verify through the gate, wait for a slot, then:
		tk.Done() // the next held message of that tenant may be verified
		// ... run it
	}
	// hint: the tenant the message's object key names, not yet verified.
	if tk, now := in.Enter("8f0c1c1e-6f1d-4a8e-9a65-2f1a4d0c9b10", run); now {
		run(tk)
	} // else: held; run is called when its tenant has room
}

// A tenant whose messages are parked (its breaker is open) is moved to the
// parked table in the background: one message at a time, each passing
// ParkEvery after the last was parked, while other tenants pass at once. A
// message that ends otherwise gives the tenant its Pass places back.
func TestIntakePacesAParkingTenant(t *testing.T) {
	t.Parallel()
	const every = 80 * time.Millisecond
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 2, Hold: 10, ParkEvery: every})
	first, second := mustEnter(t, in, "open"), mustEnter(t, in, "open")
	var held []<-chan *tenantlimits.Ticket
	for i := range 3 {
		held = append(held, enter(t, in, "open"))
		waitHeld(t, in, i+1)
	}
	parked := time.Now()
	first.Parked()
	second.Parked()
	mustEnter(t, in, "other") // not paced: another tenant passes at once
	next := <-held[0]
	if gap := time.Since(parked); gap < every {
		t.Fatalf("a parking tenant's next message passed %v after the last was parked, want at least %v", gap, every)
	}
	select {
	case <-held[1]:
		t.Fatal("two messages of a parking tenant passed at once, want one at a time")
	default:
	}
	parked = time.Now()
	next.Parked()
	third := <-held[1]
	if gap := time.Since(parked); gap < every {
		t.Fatalf("passed %v after the last park, want at least %v", gap, every)
	}
	// It runs (the breaker closed): not paced any more, Pass places again.
	third.Done()
	fourth := <-held[2]
	mustEnter(t, in, "open")
	if in.Held() != 0 {
		t.Fatalf("held %d", in.Held())
	}
	fourth.Done()
}

// Unpaced (negative ParkEvery), a parked message's place is freed at once,
// and parking still passes one message at a time.
func TestIntakeParkingUnpaced(t *testing.T) {
	t.Parallel()
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 2, Hold: 10, ParkEvery: -1})
	first, second := mustEnter(t, in, "open"), mustEnter(t, in, "open")
	a, b := enter(t, in, "open"), enter(t, in, "open")
	waitHeld(t, in, 2)
	first.Parked()
	second.Parked()
	next := <-a // at once: no timer
	select {
	case <-b:
		t.Fatal("a parking tenant passed two messages at once")
	default:
	}
	next.Parked()
	(<-b).Done()
}

// Closing while a parked message's place is still taken gives every held
// message back; the place's later release passes nothing.
func TestIntakeCloseWhileParkingPaced(t *testing.T) {
	t.Parallel()
	in := tenantlimits.NewIntake(tenantlimits.IntakeConfig{Pass: 1, Hold: 10, ParkEvery: 20 * time.Millisecond})
	first := mustEnter(t, in, "open")
	held := enter(t, in, "open")
	waitHeld(t, in, 1)
	first.Parked()
	in.Close()
	if tk := <-held; tk != nil {
		t.Fatal("a held message passed after Close, want it given back")
	}
	first.Parked() // idempotent
	first.Done()
	if in.Held() != 0 {
		t.Fatalf("held %d", in.Held())
	}
}
