package tenantlimits

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrIntakeClosed is returned by Enter for a message held when the intake
// was closed (the worker is draining): it goes back to the queue unverified.
var ErrIntakeClosed = errors.New("tenantlimits: intake closed: the worker is stopping")

// Intake holds received messages in memory, before the gate verifies them,
// while the tenant their object key names already has Pass messages being
// verified or waiting for a slot on this worker. A backlogged tenant's
// messages then cost nothing until that tenant has room (no S3 HEAD, no
// verification, no deferral transaction), and the poller reaches the other
// tenants' messages queued behind them.
//
// The key's tenant is an unverified hint. It decides only when a message is
// verified, never whose share it spends, whose breaker it counts against, or
// where anything is written: a held message is verified by the gate like
// any other once it passes. A message forged under another tenant's key
// prefix can at worst wait behind that tenant's backlog, then be refused.
//
// Holding is bounded: at most Hold messages at once (the runner receives
// that many more messages than it has slots), and a tenant's held messages
// wait at most MaxWait without progress: while its earlier messages keep
// getting slots they stay held, however long its backlog takes, so a large
// backlog never reaches MaxWait all at once and floods the durable path. A
// message that cannot be held, or whose tenant has not moved for MaxWait
// (its running work hangs), passes anyway and takes the durable path
// (deferred under its verified tenant when that tenant is backlogged). Held
// messages stay invisible through the runner's visibility heartbeats
// (batched), and a worker killed while holding them loses nothing: they
// become visible again. Safe for concurrent use; a nil *Intake holds
// nothing.
type Intake struct {
	pass, hold int
	maxWait    time.Duration

	mu     sync.Mutex
	held   int
	hints  map[string]*hintQueue
	closed chan struct{}
	once   sync.Once
}

// IntakeConfig configures an Intake.
type IntakeConfig struct {
	// Pass is how many messages of one tenant may be past the intake and
	// not yet given a slot (being verified, or waiting). Default 1.
	Pass int
	// Hold is the most messages held at once, all tenants together; 0
	// holds nothing.
	Hold int
	// MaxWait is the longest one message is held while none of its
	// tenant's held messages passes (default 1 minute): the wait counts
	// from its arrival or its tenant's last progress, whichever is later.
	MaxWait time.Duration
}

// hintQueue is one hinted tenant's state: messages past the intake and not
// yet admitted, and the held ones in arrival order.
type hintQueue struct {
	passed  int
	waiters []chan struct{}
	moved   time.Time // when a held message last passed
}

// NewIntake returns an Intake.
func NewIntake(cfg IntakeConfig) *Intake {
	if cfg.Pass < 1 {
		cfg.Pass = 1
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = time.Minute
	}
	return &Intake{pass: cfg.Pass, hold: max(cfg.Hold, 0), maxWait: cfg.MaxWait, hints: map[string]*hintQueue{},
		closed: make(chan struct{})}
}

// Close ends holding (call it when the worker starts draining): every held
// message leaves with ErrIntakeClosed, to be put back into the queue rather
// than wait out the drain, and nothing is held any more. Idempotent.
func (in *Intake) Close() {
	if in != nil {
		in.once.Do(func() { close(in.closed) })
	}
}

// Held reports how many messages are held now.
func (in *Intake) Held() int {
	if in == nil {
		return 0
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.held
}

// Holding reports how many messages whose key names hint are held now.
func (in *Intake) Holding(hint string) int {
	if in == nil {
		return 0
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if q := in.hints[hint]; q != nil {
		return len(q.waiters)
	}
	return 0
}

// Ticket is a message's passage through the intake. Done ends it (when the
// message got its slot, or ended without one); it is idempotent.
type Ticket struct {
	once sync.Once
	done func()
}

// Done frees the message's place among its hinted tenant's passed ones,
// letting the next held message of that tenant through.
func (t *Ticket) Done() {
	if t != nil && t.done != nil {
		t.once.Do(t.done)
	}
}

// Enter waits until a message whose key names hint may be verified: at
// once when hint is "" (no hint: jobs, keys that are not canonical), when
// fewer than Pass messages of hint are past the intake and none are held
// before it, or when the intake is full; otherwise held, in arrival order,
// until its tenant has not moved for MaxWait. It fails only when ctx ends
// while held.
func (in *Intake) Enter(ctx context.Context, hint string) (*Ticket, error) {
	if in == nil || hint == "" {
		return &Ticket{}, nil
	}
	in.mu.Lock()
	q := in.hints[hint]
	if q == nil {
		q = &hintQueue{}
		in.hints[hint] = q
	}
	closed := false
	select {
	case <-in.closed:
		closed = true
	default:
	}
	if (q.passed < in.pass && len(q.waiters) == 0) || in.held >= in.hold || closed {
		q.passed++
		in.mu.Unlock()
		return in.ticket(hint), nil
	}
	ch := make(chan struct{})
	q.waiters = append(q.waiters, ch)
	in.held++
	in.mu.Unlock()

	arrived := time.Now()
	t := time.NewTimer(in.maxWait)
	defer t.Stop()
	for {
		select {
		case <-ch:
			return in.ticket(hint), nil // passed counts it already
		case <-t.C:
			if left := in.stillMoving(hint, arrived); left > 0 {
				t.Reset(left)
				continue
			}
			return in.leave(hint, ch, nil)
		case <-in.closed:
			return in.leave(hint, ch, ErrIntakeClosed)
		case <-ctx.Done():
			return in.leave(hint, ch, context.Cause(ctx))
		}
	}
}

// stillMoving reports how much longer a message of hint held since arrived
// may wait: MaxWait from its arrival or its tenant's last progress,
// whichever is later (0: none).
func (in *Intake) stillMoving(hint string, arrived time.Time) time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	since := arrived
	if q := in.hints[hint]; q != nil && q.moved.After(since) {
		since = q.moved
	}
	return max(time.Until(since.Add(in.maxWait)), 0)
}

// leave takes a held message out of its queue without waiting further
// (err nil: it passes, as a timed-out wait does; else it ends with err).
func (in *Intake) leave(hint string, ch chan struct{}, err error) (*Ticket, error) {
	in.mu.Lock()
	q := in.hints[hint]
	for i, w := range q.waiters {
		if w == ch {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			in.held--
			if err != nil {
				in.gc(hint, q)
				in.mu.Unlock()
				return nil, err
			}
			q.passed++
			in.mu.Unlock()
			return in.ticket(hint), nil
		}
	}
	in.mu.Unlock()
	// Let through meanwhile: it holds a passed place already.
	tk := in.ticket(hint)
	if err != nil {
		tk.Done()
		return nil, err
	}
	return tk, nil
}

func (in *Intake) ticket(hint string) *Ticket {
	return &Ticket{done: func() { in.done(hint) }}
}

// done frees one passed place of hint and lets held messages through, oldest
// first, while there is room.
func (in *Intake) done(hint string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	q := in.hints[hint]
	if q == nil {
		return
	}
	q.passed--
	for q.passed < in.pass && len(q.waiters) > 0 {
		close(q.waiters[0])
		q.waiters = q.waiters[1:]
		in.held--
		q.passed++
		q.moved = time.Now()
	}
	in.gc(hint, q)
}

func (in *Intake) gc(hint string, q *hintQueue) {
	if q.passed <= 0 && len(q.waiters) == 0 {
		delete(in.hints, hint)
	}
}
