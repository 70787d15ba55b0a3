package dispatch_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/dispatch"
)

// stepper drives a Scheduler one grant at a time: every slot is held by a
// job until the test releases it, oldest first, so each release grants
// exactly one waiter and the order of grants is deterministic.
type stepper struct {
	t       *testing.T
	s       *dispatch.Scheduler
	grants  chan grant
	running []grant
	order   strings.Builder
}

type grant struct {
	tenant  string
	release func()
}

func newStepper(t *testing.T, slots int) *stepper {
	t.Helper()
	return newStepperCredit(t, slots, dispatch.DefaultCredit)
}

func newStepperCredit(t *testing.T, slots, rounds int) *stepper {
	t.Helper()
	s, err := dispatch.NewWith(dispatch.Config{Slots: slots, Credit: rounds})
	if err != nil {
		t.Fatal(err)
	}
	return &stepper{t: t, s: s, grants: make(chan grant, 1024)}
}

// queue adds n waiters of tenant and waits until each is waiting or granted.
func (x *stepper) queue(tenant string, share dispatch.Share, n int) {
	x.t.Helper()
	before := x.s.Waiting(tenant) + len(x.grants)
	for range n {
		go func() {
			rel, err := x.s.Acquire(context.Background(), tenant, share)
			if err != nil {
				x.t.Error(err)
				return
			}
			x.grants <- grant{tenant, rel}
		}()
	}
	waitFor(x.t, tenant+" queued", func() bool { return x.s.Waiting(tenant)+len(x.grants) == before+n })
	for len(x.grants) > 0 {
		x.take()
	}
}

func (x *stepper) take() {
	g := <-x.grants
	x.running = append(x.running, g)
	x.order.WriteString(g.tenant)
}

// step releases the oldest running job and records the grant it makes.
func (x *stepper) step() {
	x.t.Helper()
	g := x.running[0]
	x.running = x.running[1:]
	g.release()
	x.take()
}

func (x *stepper) runningOf(tenant string) int { return x.s.Stats().Running[tenant] }

// A tenant that starts waiting while another has a backlog gets one round
// of the slots (Slots grants) ahead of it, once: then they alternate.
func TestWakeUpCredit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		slots  int
		rounds int
		want   string // grants after c starts waiting
	}{
		{"one slot", 1, 1, "ccacacac"},
		{"four slots", 4, 1, "cccccacacaca"},
		{"eight slots", 8, 1, "cccccccccacaca"},
		{"no credit", 4, 0, "cacacaca"},
		{"two rounds", 4, 2, "cccccccccacaca"},
		{"three rounds of eight", 8, 3, strings.Repeat("c", 25) + "acaca"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newStepperCredit(t, tc.slots, tc.rounds)
			one := dispatch.Share{Weight: 1}
			x.queue("a", one, tc.slots) // a fills every slot
			for range 3 * tc.slots {    // and runs a while alone
				x.queue("a", one, 1)
				x.step()
			}
			x.queue("a", one, 8*tc.slots) // a's backlog
			x.queue("c", one, 8*tc.slots)
			x.order.Reset()
			for range len(tc.want) {
				x.step()
			}
			if got := x.order.String(); got != tc.want {
				t.Errorf("granted %s, want %s", got, tc.want)
			}
		})
	}
}

// The credit is not banked: a tenant that keeps running one job while
// others are granted many slots is still at most one round ahead when its
// next jobs start waiting.
func TestWakeUpCreditNotBanked(t *testing.T) {
	t.Parallel()
	const slots = 4
	x := newStepper(t, slots)
	one := dispatch.Share{Weight: 1}
	x.queue("c", one, 1) // c runs one long job
	x.queue("a", one, slots-1)
	x.queue("a", one, 200)
	for range 100 { // a is granted 100 slots; c's job still runs
		x.running = append(x.running[1:], x.running[0]) // c's job is never the oldest
		for x.running[0].tenant != "a" {
			x.running = append(x.running[1:], x.running[0])
		}
		x.step()
	}
	x.queue("c", one, 20)
	x.order.Reset()
	for range 12 {
		if x.running[0].tenant == "c" && x.runningOf("c") == 1 && len(x.running) > 1 {
			x.running = append(x.running[1:], x.running[0]) // keep the long job running
		}
		x.step()
	}
	if got, want := x.order.String(), "cccccacacaca"; got != want {
		t.Errorf("granted %s, want %s (at most one round of credit)", got, want)
	}
}

// The wake-up credit cannot starve a backlogged tenant: however often
// another tenant comes back from idle to collect its credit, the backlogged
// one gets at least its weighted share of the slots over time, less one
// round, and never waits through more than one round plus one grant.
func TestWakeUpCreditKeepsBackloggedShare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		slots  int
		rounds int
		wA, wC int
		burst  int // c's jobs each time it comes back
	}{
		{"bursts of one", 4, 1, 1, 1, 1},
		{"bursts of one round", 4, 1, 1, 1, 4},
		{"bursts of two rounds", 4, 1, 1, 1, 8},
		{"heavier returning tenant", 8, 1, 1, 3, 8},
		{"heavier backlogged tenant", 8, 1, 3, 1, 8},
		{"three rounds, bursts of four rounds", 4, 3, 1, 1, 16},
		{"three rounds, heavier returning tenant", 8, 3, 1, 3, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newStepperCredit(t, tc.slots, tc.rounds)
			a, c := dispatch.Share{Weight: tc.wA}, dispatch.Share{Weight: tc.wC}
			x.queue("a", a, tc.slots+4*tc.slots)
			const steps = 2000
			x.order.Reset()
			returns := 0
			for range steps {
				if x.s.Waiting("a") < 2*tc.slots {
					x.queue("a", a, 2*tc.slots)
				}
				if x.runningOf("c") == 0 && x.s.Waiting("c") == 0 { // c is idle: back at once
					x.queue("c", c, tc.burst)
					returns++
				}
				x.step()
			}
			got := x.order.String()
			nA := strings.Count(got, "a")
			share := float64(tc.wA) / float64(tc.wA+tc.wC)
			if min := share*steps - float64(tc.rounds*tc.slots); float64(nA) < min {
				t.Errorf("a was granted %d of %d slots (c came back %d times), want at least %.0f (its weighted share less its credit)",
					nA, steps, returns, min)
			}
			if gap := strings.Repeat("c", tc.rounds*tc.slots*tc.wC/tc.wA+2); strings.Contains(got, gap) {
				t.Errorf("a waited through %d or more grants to c", len(gap))
			}
			t.Logf("a %d of %d, c came back %d times", nA, steps, returns)
		})
	}
}
