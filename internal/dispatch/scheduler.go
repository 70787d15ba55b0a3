package dispatch

import (
	"context"
	"errors"
	"sync"
)

// stride1 is the stride of weight 1; a tenant of weight w advances its
// pass by stride1/w per slot granted.
const stride1 = 1 << 20

// Share is one tenant's share of the slots: its weight (at least 1) and its
// concurrency cap (0: only the global limit).
type Share struct {
	Weight int
	Max    int
}

// Scheduler hands out slots across tenants. It is safe for concurrent use.
type Scheduler struct {
	slots  int
	credit uint64 // wake-up credit in rounds

	mu      sync.Mutex
	busy    int
	vtime   uint64 // the largest pass served so far: where a tenant without credit starts
	tenants map[string]*tenant
	// idle remembers the pass of tenants gone idle while it is above their
	// floor, so that coming back does not renew credit already used.
	idle    map[string]idleTenant
	sweepAt int // len(idle) at which it is next swept
}

type idleTenant struct {
	pass   uint64
	weight int
}

// Bounds of the idle tenants remembered: swept of those at their floor
// whenever their number doubles (from minSweep), and forgotten all at once
// past maxIdle (each then comes back with at most one round of credit).
const (
	minSweep = 64
	maxIdle  = 1 << 14
)

type tenant struct {
	share   Share
	pass    uint64
	running int
	waiters []*waiter
}

type waiter struct {
	ready   chan struct{}
	granted bool
}

// DefaultCredit is the wake-up credit New gives, in rounds.
const DefaultCredit = 1

// New returns a Scheduler with slots concurrent runs (at least 1) and the
// default wake-up credit (DefaultCredit rounds).
func New(slots int) (*Scheduler, error) {
	return NewWithCredit(slots, DefaultCredit)
}

// NewWithCredit returns a Scheduler with slots concurrent runs (at least
// 1) whose wake-up credit is rounds rounds (0: none; a round is slots
// grants at the tenant's weight): a tenant that starts waiting may be that
// far behind the virtual time, so it gets up to rounds x slots + 1 grants
// before a backlogged tenant of the same weight gets its next.
func NewWithCredit(slots, rounds int) (*Scheduler, error) {
	if slots < 1 {
		return nil, errors.New("dispatch: slots must be positive")
	}
	if rounds < 0 || rounds > 64 {
		return nil, errors.New("dispatch: credit must be 0..64 rounds")
	}
	return &Scheduler{slots: slots, credit: uint64(rounds), tenants: map[string]*tenant{}, idle: map[string]idleTenant{}, sweepAt: minSweep}, nil
}

// Slots is the global number of slots.
func (s *Scheduler) Slots() int { return s.slots }

// Acquire waits for a slot for tenant under share and returns the function
// that gives it back (call it exactly once). It returns ctx's error if ctx
// ends while waiting.
func (s *Scheduler) Acquire(ctx context.Context, id string, share Share) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if share.Weight < 1 {
		share.Weight = 1
	}
	s.mu.Lock()
	t := s.tenants[id]
	if t == nil {
		t = &tenant{pass: s.idle[id].pass}
		delete(s.idle, id)
		s.tenants[id] = t
	}
	t.share = share
	if len(t.waiters) == 0 {
		// Starts waiting (newly active, or only running until now): its
		// wake-up credit is at most one round behind the virtual time.
		t.pass = max(t.pass, s.floor(share.Weight))
	}
	w := &waiter{ready: make(chan struct{})}
	t.waiters = append(t.waiters, w)
	s.dispatch()
	s.mu.Unlock()

	rel := func() { s.release(id) }
	select {
	case <-w.ready:
		return sync.OnceFunc(rel), nil
	case <-ctx.Done():
		s.mu.Lock()
		if w.granted {
			s.mu.Unlock()
			rel() // granted as we gave up: pass the slot on
			return nil, ctx.Err()
		}
		for i, x := range t.waiters {
			if x == w {
				t.waiters = append(t.waiters[:i], t.waiters[i+1:]...)
				break
			}
		}
		s.forget(id, t)
		s.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (s *Scheduler) release(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy--
	if t := s.tenants[id]; t != nil {
		t.running--
		s.forget(id, t)
	}
	s.dispatch()
}

// floor is the lowest pass a tenant of weight w may have when it starts
// waiting: its credit in rounds of the slots at its weight (Slots grants
// each) behind the virtual time, or 0. Called with mu held.
func (s *Scheduler) floor(w int) uint64 {
	round := s.credit * uint64(s.slots) * uint64(stride1/w)
	if s.vtime < round {
		return 0
	}
	return s.vtime - round
}

// forget drops an idle tenant (nothing running or waiting), remembering
// its pass while that is above its floor.
func (s *Scheduler) forget(id string, t *tenant) {
	if t.running != 0 || len(t.waiters) != 0 {
		return
	}
	delete(s.tenants, id)
	if t.pass <= s.floor(t.share.Weight) {
		return
	}
	s.idle[id] = idleTenant{t.pass, t.share.Weight}
	if len(s.idle) < s.sweepAt && len(s.idle) <= maxIdle {
		return
	}
	for k, v := range s.idle {
		if v.pass <= s.floor(v.weight) {
			delete(s.idle, k)
		}
	}
	if len(s.idle) > maxIdle {
		clear(s.idle)
	}
	s.sweepAt = max(2*len(s.idle), minSweep)
}

// dispatch grants free slots: each to the eligible waiting tenant (under
// its cap) with the smallest pass.
func (s *Scheduler) dispatch() {
	for s.busy < s.slots {
		var (
			best   *tenant
			bestID string
		)
		for id, t := range s.tenants {
			if len(t.waiters) == 0 || (t.share.Max > 0 && t.running >= t.share.Max) {
				continue
			}
			if best == nil || t.pass < best.pass || (t.pass == best.pass && id < bestID) {
				best, bestID = t, id
			}
		}
		if best == nil {
			return
		}
		w := best.waiters[0]
		best.waiters = best.waiters[1:]
		best.running++
		s.busy++
		if best.pass > s.vtime {
			s.vtime = best.pass
		}
		best.pass += uint64(stride1 / best.share.Weight)
		w.granted = true
		close(w.ready)
	}
}

// Waiting returns how many callers of tenant id wait for a slot.
func (s *Scheduler) Waiting(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[id]; t != nil {
		return len(t.waiters)
	}
	return 0
}

// Stats is a snapshot of the scheduler.
type Stats struct {
	Busy    int
	Running map[string]int
	Waiting map[string]int
}

// Stats returns a snapshot (for metrics and tests).
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Busy: s.busy, Running: map[string]int{}, Waiting: map[string]int{}}
	for id, t := range s.tenants {
		if t.running > 0 {
			st.Running[id] = t.running
		}
		if len(t.waiters) > 0 {
			st.Waiting[id] = len(t.waiters)
		}
	}
	return st
}
