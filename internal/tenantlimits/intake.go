package tenantlimits

import (
	"sync"
	"time"
)

// Intake holds received messages in memory, before the gate verifies them,
// while the tenant their object key names already has Pass messages being
// verified or waiting for a slot on this worker. A backlogged tenant's
// messages then cost nothing until that tenant has room (no S3 HEAD, no
// verification, no deferral transaction, no goroutine: the runner keeps a
// held message as received, see worker.Admitter), and the poller reaches
// the other tenants' messages queued behind them.
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
	parkEvery  time.Duration

	mu     sync.Mutex
	held   int
	hints  map[string]*hintQueue
	closed bool
	// Passes to call, in order, by one goroutine at a time (calling one
	// may end a ticket and so pass more: they queue here instead of
	// nesting).
	outbox  []passing
	calling bool
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
	// ParkEvery paces a tenant whose messages are being parked (see
	// Ticket.Parked): its next message passes this long after the last
	// one was parked, so an open breaker's backlog is parked at most
	// 1/ParkEvery messages a second, in the background, instead of
	// taking verifications, S3 HEADs and transactions from the tenants
	// that run. 0: default 50 ms (20 a second); negative: not paced.
	ParkEvery time.Duration
}

// DefaultParkEvery is IntakeConfig.ParkEvery's default.
const DefaultParkEvery = 50 * time.Millisecond

// hintQueue is one hinted tenant's state: messages past the intake and not
// yet admitted, and the held ones in arrival order.
type hintQueue struct {
	passed  int
	parking bool // the last message to leave was parked: pass one at a time
	waiters []waiter
	moved   time.Time   // when a held message last passed
	timer   *time.Timer // armed for the first waiter's MaxWait while any waits
	armed   uint64      // counts the timers armed: which one is current
}

// waiter is one held message: what to call when it passes, and when it
// arrived.
type waiter struct {
	pass    func(*Ticket)
	arrived time.Time
}

// passing is a pass to call with its ticket (nil: given back).
type passing struct {
	pass func(*Ticket)
	tk   *Ticket
}

// NewIntake returns an Intake.
func NewIntake(cfg IntakeConfig) *Intake {
	if cfg.Pass < 1 {
		cfg.Pass = 1
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = time.Minute
	}
	switch {
	case cfg.ParkEvery == 0:
		cfg.ParkEvery = DefaultParkEvery
	case cfg.ParkEvery < 0:
		cfg.ParkEvery = 0
	}
	return &Intake{pass: cfg.Pass, hold: max(cfg.Hold, 0), maxWait: cfg.MaxWait, parkEvery: cfg.ParkEvery, hints: map[string]*hintQueue{}}
}

// Close ends holding (call it when the worker starts draining): every held
// message is given back (its pass is called with nil), to be put back into
// the queue rather than wait out the drain, and nothing is held any more.
// Idempotent.
func (in *Intake) Close() {
	if in == nil {
		return
	}
	in.mu.Lock()
	in.closed = true
	var out []passing
	for hint, q := range in.hints {
		for _, w := range q.waiters {
			out = append(out, passing{pass: w.pass})
		}
		in.held -= len(q.waiters)
		q.waiters = nil
		in.gc(hint, q)
	}
	in.call(out) // unlocks
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
// message got its slot, or ended without one), Parked ends it as parked;
// the first call counts. It is a worker.Admission.
type Ticket struct {
	once sync.Once
	done func(parked bool)
}

// Done frees the message's place among its hinted tenant's passed ones,
// letting the next held message of that tenant through.
func (t *Ticket) Done() { t.end(false) }

// Parked is Done for a message its tenant's breaker parked: until one of
// the hinted tenant's messages ends otherwise, its held messages pass one
// at a time, each ParkEvery after the last was parked (the place is freed
// then), not Pass at a time. Parking is not urgent (a held message is as
// safe as a parked one, and the tenant's work waits for its breaker either
// way), so an open breaker's backlog is moved to the parked table in the
// background instead of taking verifications, S3 HEADs and transactions
// from the tenants that run. Only a message the gate verified under the
// key's own tenant reaches the breaker, so the hint paced is the tenant
// whose breaker parked it.
func (t *Ticket) Parked() { t.end(true) }

func (t *Ticket) end(parked bool) {
	if t != nil && t.done != nil {
		t.once.Do(func() { t.done(parked) })
	}
}

// Enter asks whether a message whose key names hint may be verified now:
// at once when hint is "" (no hint: jobs, keys that are not canonical),
// when fewer than Pass messages of hint are past the intake and none are
// held before it, when the intake is full, or when it is closed; then Enter
// returns the message's ticket and true. Otherwise the message is held, in
// arrival order, and Enter returns false: pass is called later, exactly
// once, with the message's ticket when its tenant has room or has not moved
// for MaxWait, or with nil when the intake is closed (the message goes back
// to the queue). pass is never called from inside Enter nor with the
// intake's lock held, and passes are called one at a time, in the order
// they were decided.
func (in *Intake) Enter(hint string, pass func(*Ticket)) (*Ticket, bool) {
	if in == nil || hint == "" {
		return &Ticket{}, true
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	q := in.hints[hint]
	if q == nil {
		q = &hintQueue{}
		in.hints[hint] = q
	}
	if (q.passed < in.passFor(q) && len(q.waiters) == 0) || in.held >= in.hold || in.closed {
		q.passed++
		return in.ticket(hint), true
	}
	q.waiters = append(q.waiters, waiter{pass: pass, arrived: time.Now()})
	in.held++
	in.arm(hint, q)
	return nil, false
}

// arm sets q's timer for its first waiter's MaxWait (from its arrival or
// the tenant's last progress, whichever is later), if q has waiters and no
// timer. Called with mu held.
func (in *Intake) arm(hint string, q *hintQueue) {
	if q.timer != nil || len(q.waiters) == 0 {
		return
	}
	since := q.waiters[0].arrived
	if q.moved.After(since) {
		since = q.moved
	}
	q.armed++
	gen := q.armed
	q.timer = time.AfterFunc(time.Until(since.Add(in.maxWait)), func() { in.expire(hint, q, gen) })
}

// expire lets through q's held messages whose tenant has not moved for
// MaxWait since they arrived, oldest first: each takes a passed place, as
// if its tenant had room.
func (in *Intake) expire(hint string, q *hintQueue, gen uint64) {
	in.mu.Lock()
	if q.timer == nil || q.armed != gen {
		in.mu.Unlock() // stopped meanwhile
		return
	}
	q.timer = nil
	now := time.Now()
	var out []passing
	for len(q.waiters) > 0 {
		since := q.waiters[0].arrived
		if q.moved.After(since) {
			since = q.moved
		}
		if since.Add(in.maxWait).After(now) {
			break
		}
		out = append(out, passing{q.waiters[0].pass, in.ticket(hint)})
		q.waiters[0] = waiter{}
		q.waiters = q.waiters[1:]
		in.held--
		q.passed++
	}
	in.arm(hint, q)
	in.call(out) // unlocks
}

func (in *Intake) ticket(hint string) *Ticket {
	return &Ticket{done: func(parked bool) { in.done(hint, parked) }}
}

// passFor is how many of q's messages may be past the intake at once.
func (in *Intake) passFor(q *hintQueue) int {
	if q.parking {
		return 1
	}
	return in.pass
}

// done frees one passed place of hint (parked: its message was parked,
// and the place is freed ParkEvery later) and lets held messages through,
// oldest first, while there is room.
func (in *Intake) done(hint string, parked bool) {
	if parked && in.parkEvery > 0 {
		// The place stays taken until then: with one place while parking,
		// nothing else of hint passes meanwhile.
		time.AfterFunc(in.parkEvery, func() { in.free(hint, true) })
		return
	}
	in.free(hint, parked)
}

func (in *Intake) free(hint string, parked bool) {
	in.mu.Lock()
	q := in.hints[hint]
	if q == nil {
		in.mu.Unlock()
		return
	}
	q.passed--
	q.parking = parked
	var out []passing
	for q.passed < in.passFor(q) && len(q.waiters) > 0 {
		out = append(out, passing{q.waiters[0].pass, in.ticket(hint)})
		q.waiters[0] = waiter{}
		q.waiters = q.waiters[1:]
		in.held--
		q.passed++
		q.moved = time.Now()
	}
	in.gc(hint, q)
	in.call(out) // unlocks
}

// call queues out and, unless another goroutine is calling passes already,
// calls every queued pass in order. Called with mu held; it unlocks it.
func (in *Intake) call(out []passing) {
	in.outbox = append(in.outbox, out...)
	if in.calling || len(in.outbox) == 0 {
		in.mu.Unlock()
		return
	}
	in.calling = true
	for len(in.outbox) > 0 {
		batch := in.outbox
		in.outbox = nil
		in.mu.Unlock()
		for _, p := range batch {
			p.pass(p.tk)
		}
		in.mu.Lock()
	}
	in.calling = false
	in.mu.Unlock()
}

func (in *Intake) gc(hint string, q *hintQueue) {
	if len(q.waiters) == 0 && q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	if q.passed <= 0 && len(q.waiters) == 0 {
		delete(in.hints, hint)
	}
}
