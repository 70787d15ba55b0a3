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
	slots   int
	reserve int    // slots kept for tenants running fewer than reserve
	credit  uint64 // wake-up credit in rounds

	mu       sync.Mutex
	busy     int    // of the slots
	reserved int    // of the reserve
	vtime    uint64 // the largest pass served so far: where a tenant without credit starts
	tenants  map[string]*tenant
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
	reserve bool // granted from the reserve
}

// DefaultCredit is the wake-up credit New gives, in rounds.
const DefaultCredit = 1

// Config configures a Scheduler.
type Config struct {
	// Slots is how many runs at once the tenants share (at least 1).
	Slots int
	// Credit is the wake-up credit in rounds (0: none, at most 64; a
	// round is Slots grants at the tenant's weight): a tenant that starts
	// waiting may be that far behind the virtual time, so it gets up to
	// Credit x Slots + 1 grants before a backlogged tenant of the same
	// weight gets its next.
	Credit int
	// Reserve is how many runs at once, beyond Slots, are kept for
	// tenants running fewer than Reserve (0: none): a tenant arriving
	// next to backlogs that hold every slot starts at once instead of
	// waiting for one of theirs to end, and a tenant alone never runs
	// more than Slots.
	Reserve int
}

// New returns a Scheduler with slots concurrent runs (at least 1), the
// default wake-up credit (DefaultCredit rounds) and no reserve.
func New(slots int) (*Scheduler, error) {
	return NewWith(Config{Slots: slots, Credit: DefaultCredit})
}

// NewWith returns a Scheduler configured by cfg.
func NewWith(cfg Config) (*Scheduler, error) {
	if cfg.Slots < 1 {
		return nil, errors.New("dispatch: slots must be positive")
	}
	if cfg.Credit < 0 || cfg.Credit > 64 {
		return nil, errors.New("dispatch: credit must be 0..64 rounds")
	}
	if cfg.Reserve < 0 || cfg.Reserve > cfg.Slots {
		return nil, errors.New("dispatch: reserve must be 0..slots")
	}
	return &Scheduler{slots: cfg.Slots, reserve: cfg.Reserve, credit: uint64(cfg.Credit), tenants: map[string]*tenant{},
		idle: map[string]idleTenant{}, sweepAt: minSweep}, nil
}

// Slots is the global number of slots (the reserve not included).
func (s *Scheduler) Slots() int { return s.slots }

// Reserve is the number of runs kept beyond Slots for tenants running
// fewer than that (Config.Reserve).
func (s *Scheduler) Reserve() int { return s.reserve }

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

	rel := func() { s.release(id, w.reserve) }
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

func (s *Scheduler) release(id string, reserve bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reserve {
		s.reserved--
	} else {
		s.busy--
	}
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

// dispatch grants free slots, each to the eligible waiting tenant (under
// its cap) with the smallest pass; when every slot is busy, the reserve's
// free places go the same way to tenants running fewer than the reserve.
func (s *Scheduler) dispatch() {
	for {
		reserve := false
		switch {
		case s.busy < s.slots:
		case s.reserved < s.reserve:
			reserve = true
		default:
			return
		}
		best := s.next(reserve)
		if best == nil {
			return
		}
		w := best.waiters[0]
		best.waiters = best.waiters[1:]
		best.running++
		if reserve {
			s.reserved++
		} else {
			s.busy++
		}
		if best.pass > s.vtime {
			s.vtime = best.pass
		}
		best.pass += uint64(stride1 / best.share.Weight)
		w.granted, w.reserve = true, reserve
		close(w.ready)
	}
}

// next returns the waiting tenant under its cap with the smallest pass
// (ties by id), only among those running fewer than the reserve when
// reserve is set; nil if none. Called with mu held.
func (s *Scheduler) next(reserve bool) *tenant {
	var (
		best   *tenant
		bestID string
	)
	for id, t := range s.tenants {
		if len(t.waiters) == 0 || (t.share.Max > 0 && t.running >= t.share.Max) || (reserve && t.running >= s.reserve) {
			continue
		}
		if best == nil || t.pass < best.pass || (t.pass == best.pass && id < bestID) {
			best, bestID = t, id
		}
	}
	return best
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
	Busy     int // runs in progress, the reserve's included
	Reserved int // of them, runs on the reserve
	Running  map[string]int
	Waiting  map[string]int
}

// Stats returns a snapshot (for metrics and tests).
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Busy: s.busy + s.reserved, Reserved: s.reserved, Running: map[string]int{}, Waiting: map[string]int{}}
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
