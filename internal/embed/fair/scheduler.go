package fair

import (
	"context"
	"errors"
	"sync"

	"github.com/tenantry/tenantry/pipeline"
)

// Scheduler runs work in a bounded number of slots, round-robin across
// tenants. It is safe for concurrent use.
type Scheduler struct {
	slots int

	mu     sync.Mutex
	busy   int
	queues map[string]*queue // tenants with waiting work
	ring   []string          // those tenants in round-robin order
	next   int               // index in ring of the tenant served next
}

type queue struct {
	waiters []*waiter
}

type waiter struct {
	ready   chan struct{} // closed when granted a slot
	granted bool
}

// New returns a Scheduler with slots concurrent runs (at least 1).
func New(slots int) (*Scheduler, error) {
	if slots < 1 {
		return nil, errors.New("fair: slots must be positive")
	}
	return &Scheduler{slots: slots, queues: map[string]*queue{}}, nil
}

// Do runs fn in a slot once it is tenant's turn. It returns ctx's error if
// ctx ends while waiting, else fn's error.
func (s *Scheduler) Do(ctx context.Context, tenant string, fn func(context.Context) error) error {
	if err := s.acquire(ctx, tenant); err != nil {
		return err
	}
	defer s.release()
	return fn(ctx)
}

func (s *Scheduler) acquire(ctx context.Context, tenant string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.busy < s.slots && len(s.ring) == 0 {
		s.busy++
		s.mu.Unlock()
		return nil
	}
	w := &waiter{ready: make(chan struct{})}
	q := s.queues[tenant]
	if q == nil {
		q = &queue{}
		s.queues[tenant] = q
		// A tenant that joins is served after those already waiting.
		s.ring = append(s.ring, "")
		copy(s.ring[s.next+1:], s.ring[s.next:])
		s.ring[s.next] = tenant
		s.next++
		if s.next >= len(s.ring) {
			s.next = 0
		}
	}
	q.waiters = append(q.waiters, w)
	s.dispatch()
	s.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if w.granted {
			// Granted as we gave up: pass the slot on.
			s.busy--
			s.dispatch()
			return ctx.Err()
		}
		s.remove(tenant, w)
		return ctx.Err()
	}
}

func (s *Scheduler) release() {
	s.mu.Lock()
	s.busy--
	s.dispatch()
	s.mu.Unlock()
}

// dispatch grants free slots to waiting tenants in ring order.
func (s *Scheduler) dispatch() {
	for s.busy < s.slots && len(s.ring) > 0 {
		if s.next >= len(s.ring) {
			s.next = 0
		}
		tenant := s.ring[s.next]
		q := s.queues[tenant]
		w := q.waiters[0]
		q.waiters = q.waiters[1:]
		if len(q.waiters) == 0 {
			delete(s.queues, tenant)
			s.ring = append(s.ring[:s.next], s.ring[s.next+1:]...)
		} else {
			s.next++
		}
		s.busy++
		w.granted = true
		close(w.ready)
	}
}

func (s *Scheduler) remove(tenant string, w *waiter) {
	q := s.queues[tenant]
	if q == nil {
		return
	}
	for i, x := range q.waiters {
		if x == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			break
		}
	}
	if len(q.waiters) > 0 {
		return
	}
	delete(s.queues, tenant)
	for i, t := range s.ring {
		if t == tenant {
			s.ring = append(s.ring[:i], s.ring[i+1:]...)
			if i < s.next {
				s.next--
			}
			break
		}
	}
}

// Waiting returns how many calls wait, per tenant.
func (s *Scheduler) Waiting() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.queues))
	for t, q := range s.queues {
		out[t] = len(q.waiters)
	}
	return out
}

type tenantKey struct{}

// WithTenant returns a context naming the tenant whose work it carries, for
// Embedder.
func WithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenant)
}

// TenantFrom returns the tenant set by WithTenant ("" if none).
func TenantFrom(ctx context.Context) string {
	t, _ := ctx.Value(tenantKey{}).(string)
	return t
}

// Embedder runs each Embed call of e through the scheduler, as the tenant
// named by the call's context (WithTenant; calls without one share the ""
// tenant).
func (s *Scheduler) Embedder(e pipeline.Embedder) pipeline.Embedder {
	return &fairEmbedder{s: s, e: e}
}

type fairEmbedder struct {
	s *Scheduler
	e pipeline.Embedder
}

func (f *fairEmbedder) Model() string   { return f.e.Model() }
func (f *fairEmbedder) Dimensions() int { return f.e.Dimensions() }

func (f *fairEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	var out [][]float32
	err := f.s.Do(ctx, TenantFrom(ctx), func(ctx context.Context) error {
		var err error
		out, err = f.e.Embed(ctx, texts)
		return err
	})
	return out, err
}
