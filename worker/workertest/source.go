// Package workertest has test helpers for the worker package: an in-memory
// Source with SQS semantics (visibility timeouts, receive counts, a
// dead-letter queue, an optional redrive policy), for fast runner tests.
//
// It passes the same conformance suite (worker/sourcetest) as the SQS
// source. It must never be used in production code.
package workertest

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tenantry/tenantry/worker"
)

// Config configures an in-memory Source. Zero fields take defaults.
type Config struct {
	// VisibilityTimeout is how long a received message stays hidden
	// (default 30s). Unlike SQS it may be any duration.
	VisibilityTimeout time.Duration
	// WaitTime is the longest a Receive waits for messages (default 20s).
	WaitTime time.Duration
	// MaxReceiveCount emulates the queue's redrive policy: a message about
	// to be received for the (MaxReceiveCount+1)-th time moves to the
	// dead-letter queue instead, without reason attributes. 0: no policy.
	MaxReceiveCount int
	// NoDeadLetterQueue makes DeadLetter fail with
	// worker.ErrNoDeadLetterQueue.
	NoDeadLetterQueue bool
}

// Counts are the queue's state and the operations it served.
type Counts struct {
	Visible, InFlight, Delayed int // messages in each state now
	Deleted, DeadLettered      int // messages gone for good
	Receives, Acks, Nacks      int // operations served (Receives counts deliveries)
	Extends, StaleOps          int // StaleOps: operations on deliveries no longer held
	// ExtendCalls counts Extend and ExtendBatch calls (Extends counts the
	// messages they extended or tried to).
	ExtendCalls int
}

// Source is an in-memory worker.Source (and worker.BatchExtender). Create
// it with NewSource.
type Source struct {
	cfg Config

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when messages may have become visible
	visible []*entry      // FIFO of visible messages
	hidden  entryHeap     // in flight or delayed, by visibleAt
	handles map[string]*entry
	dlq     []*worker.Message
	closed  bool
	counts  Counts
	seq     int
}

type entry struct {
	id              string
	body            []byte
	attrs           map[string]string
	sentAt          time.Time
	firstReceivedAt time.Time
	receiveCount    int
	visibleAt       time.Time
	handle          string // current delivery ("" when visible or delayed)
	index           int    // in hidden, or -1
}

// NewSource returns an empty in-memory queue.
func NewSource(cfg Config) *Source {
	if cfg.VisibilityTimeout <= 0 {
		cfg.VisibilityTimeout = 30 * time.Second
	}
	if cfg.WaitTime <= 0 {
		cfg.WaitTime = 20 * time.Second
	}
	return &Source{cfg: cfg, changed: make(chan struct{}), handles: map[string]*entry{}}
}

// Push enqueues a message and returns its id.
func (s *Source) Push(body []byte, attrs map[string]string) string {
	return s.PushDelayed(body, attrs, 0)
}

// PushDelayed enqueues a message that becomes visible after delay.
func (s *Source) PushDelayed(body []byte, attrs map[string]string, delay time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	now := time.Now()
	e := &entry{
		id:     fmt.Sprintf("mem-%d-%s", s.seq, randomHex(4)),
		body:   slices.Clone(body),
		attrs:  maps.Clone(attrs),
		sentAt: now,
		index:  -1,
	}
	if delay > 0 {
		e.visibleAt = now.Add(delay)
		heap.Push(&s.hidden, e)
	} else {
		s.visible = append(s.visible, e)
	}
	s.notifyLocked()
	return e.id
}

// Send implements sourcetest.Sender.
func (s *Source) Send(_ context.Context, body []byte, attrs map[string]string) error {
	s.Push(body, attrs)
	return nil
}

// DeadLetters implements sourcetest.Sender: it removes and returns the
// dead-lettered messages, waiting until there is at least one or ctx ends.
func (s *Source) DeadLetters(ctx context.Context) ([]*worker.Message, error) {
	for {
		s.mu.Lock()
		if len(s.dlq) > 0 {
			out := s.dlq
			s.dlq = nil
			s.mu.Unlock()
			return out, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, nil
		case <-ch:
		}
	}
}

// DLQ returns a copy of the dead-letter queue without removing anything.
func (s *Source) DLQ() []*worker.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*worker.Message, len(s.dlq))
	for i, m := range s.dlq {
		c := *m
		c.Attributes = maps.Clone(m.Attributes)
		out[i] = &c
	}
	return out
}

// Counts returns the queue's state and operation counts.
func (s *Source) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.promoteLocked(time.Now())
	c := s.counts
	c.Visible = len(s.visible)
	c.InFlight, c.Delayed = 0, 0
	for _, e := range s.hidden {
		if e.handle != "" {
			c.InFlight++
		} else {
			c.Delayed++
		}
	}
	return c
}

// Close makes Receive return worker.ErrSourceClosed.
func (s *Source) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.notifyLocked()
}

// Receive implements worker.Source.
func (s *Source) Receive(ctx context.Context, max int) ([]*worker.Message, error) {
	if max < 1 || max > 10 {
		return nil, fmt.Errorf("workertest: max must be 1..10, got %d", max)
	}
	waitEnd := time.NewTimer(s.cfg.WaitTime)
	defer waitEnd.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("workertest: receive: %w", err)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, worker.ErrSourceClosed
		}
		now := time.Now()
		s.promoteLocked(now)
		var out []*worker.Message
		for len(out) < max && len(s.visible) > 0 {
			e := s.visible[0]
			s.visible[0] = nil
			s.visible = s.visible[1:]
			e.receiveCount++
			if s.cfg.MaxReceiveCount > 0 && e.receiveCount > s.cfg.MaxReceiveCount {
				// The queue's own redrive: no reason attributes.
				s.dlq = append(s.dlq, e.message())
				s.counts.DeadLettered++
				continue
			}
			if e.firstReceivedAt.IsZero() {
				e.firstReceivedAt = now
			}
			e.handle = randomHex(16)
			e.visibleAt = now.Add(s.cfg.VisibilityTimeout)
			s.handles[e.handle] = e
			heap.Push(&s.hidden, e)
			m := e.message()
			m.ReceivedAt = now
			out = append(out, m)
			s.counts.Receives++
		}
		ch := s.changed
		var next time.Duration = -1
		if len(s.hidden) > 0 {
			next = s.hidden[0].visibleAt.Sub(now)
		}
		s.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		var due <-chan time.Time
		var t *time.Timer
		if next >= 0 {
			t = time.NewTimer(next)
			due = t.C
		}
		select {
		case <-ctx.Done():
		case <-waitEnd.C:
			return nil, nil
		case <-ch:
		case <-due:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// Ack implements worker.Source. Deliveries no longer held are ignored, as
// SQS ignores stale receipt handles on delete.
func (s *Source) Ack(_ context.Context, msgs ...*worker.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		s.counts.Acks++
		e, ok := s.heldLocked(m)
		if !ok {
			s.counts.StaleOps++
			continue
		}
		s.removeLocked(e)
		s.counts.Deleted++
	}
	return nil
}

// Nack implements worker.Source.
func (s *Source) Nack(_ context.Context, m *worker.Message, delay time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.Nacks++
	e, ok := s.heldLocked(m)
	if !ok {
		s.counts.StaleOps++
		return fmt.Errorf("workertest: nack %s: %w", m.ID, worker.ErrNotInFlight)
	}
	if delay <= 0 {
		s.removeLocked(e)
		s.visible = append(s.visible, e)
	} else {
		e.visibleAt = time.Now().Add(delay)
		heap.Fix(&s.hidden, e.index)
	}
	s.notifyLocked()
	return nil
}

// Extend implements worker.Source.
func (s *Source) Extend(_ context.Context, m *worker.Message, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.ExtendCalls++
	return s.extendLocked(m, d)
}

// ExtendBatch implements worker.BatchExtender: Extend of each message, in
// one call.
func (s *Source) ExtendBatch(_ context.Context, msgs []*worker.Message, d time.Duration) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.ExtendCalls++
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		errs[i] = s.extendLocked(m, d)
	}
	return errs
}

func (s *Source) extendLocked(m *worker.Message, d time.Duration) error {
	s.counts.Extends++
	e, ok := s.heldLocked(m)
	if !ok {
		s.counts.StaleOps++
		return fmt.Errorf("workertest: extend %s: %w", m.ID, worker.ErrNotInFlight)
	}
	e.visibleAt = time.Now().Add(d)
	heap.Fix(&s.hidden, e.index)
	return nil
}

// DeadLetter implements worker.Source.
func (s *Source) DeadLetter(_ context.Context, m *worker.Message, info worker.DeadLetterInfo) error {
	if s.cfg.NoDeadLetterQueue {
		return worker.ErrNoDeadLetterQueue
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.heldLocked(m)
	if !ok {
		s.counts.StaleOps++
		return fmt.Errorf("workertest: dead-letter %s: %w", m.ID, worker.ErrNotInFlight)
	}
	dm := e.message()
	dm.ID = fmt.Sprintf("dlq-%s", e.id)
	dm.ReceiveCount = 0
	for _, a := range worker.DeadLetterAttributes(slices.Collect(maps.Keys(dm.Attributes)), info, e.id) {
		if dm.Attributes == nil {
			dm.Attributes = map[string]string{}
		}
		dm.Attributes[a.Name] = a.Value
	}
	s.removeLocked(e)
	s.dlq = append(s.dlq, dm)
	s.counts.DeadLettered++
	s.notifyLocked()
	return nil
}

// heldLocked finds the entry of a delivery that is still held.
func (s *Source) heldLocked(m *worker.Message) (*entry, bool) {
	e, ok := s.handles[m.Handle]
	if !ok || e.handle != m.Handle || e.index < 0 {
		return nil, false
	}
	return e, true
}

// removeLocked takes a held entry out of the hidden heap and forgets its
// handle.
func (s *Source) removeLocked(e *entry) {
	heap.Remove(&s.hidden, e.index)
	delete(s.handles, e.handle)
	e.handle = ""
}

// promoteLocked makes entries whose visibility expired visible again.
func (s *Source) promoteLocked(now time.Time) {
	for len(s.hidden) > 0 && !s.hidden[0].visibleAt.After(now) {
		e := heap.Pop(&s.hidden).(*entry)
		delete(s.handles, e.handle)
		e.handle = ""
		s.visible = append(s.visible, e)
	}
}

func (s *Source) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (e *entry) message() *worker.Message {
	return &worker.Message{
		ID:              e.id,
		Body:            slices.Clone(e.body),
		Attributes:      maps.Clone(e.attrs),
		ReceiveCount:    e.receiveCount,
		SentAt:          e.sentAt,
		FirstReceivedAt: e.firstReceivedAt,
		Handle:          e.handle,
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// entryHeap orders hidden entries by visibleAt.
type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].visibleAt.Before(h[j].visibleAt) }
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}
