package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Admitter decides when each received message's handler starts
// (Config.Admitter): now, or later, so that messages waiting for something
// the runner does not know about (a tenant's room, a key's turn) cost no
// goroutine, no context and no heartbeat of their own while they wait. The
// runner keeps a kept message invisible with its batched heartbeats and
// counts it in flight (it holds one of the Concurrency slots).
type Admitter interface {
	// Admit is asked once for each received message, before anything else
	// is done for it, on the receiving goroutine: it must not block. It
	// returns the message's Admission and true to start it now. Otherwise
	// it keeps the message and later calls start exactly once, from any
	// goroutine but never from inside Admit and without holding its own
	// locks: start(a) starts the handler with Admission a, start(nil) gives
	// the message back (the runner makes it visible again at once,
	// unhandled).
	Admit(m *Message, start func(Admission)) (Admission, bool)
	// Close is called once, when the runner stops receiving: the Admitter
	// gives back every message it keeps and keeps none afterwards. The
	// runner has already made those messages visible again: a start after
	// Close only returns the Admission it is given.
	Close()
}

// Admission is a started message's place, granted by an Admitter. Done
// gives it back; it must be idempotent. The runner calls it when the
// handler returns; the handler may call it sooner (Admitted).
type Admission interface {
	Done()
}

type admissionKey struct{}

type noAdmission struct{}

func (noAdmission) Done() {}

// Admitted returns the Admission of the message ctx handles (one whose
// Done does nothing when the runner has no Admitter).
func Admitted(ctx context.Context) Admission {
	if a, ok := ctx.Value(admissionKey{}).(Admission); ok {
		return a
	}
	return noAdmission{}
}

// WithAdmission returns ctx carrying a, as the runner gives it to the
// handler of a message started with a (for tests of handlers that call
// Admitted).
func WithAdmission(ctx context.Context, a Admission) context.Context {
	if a == nil {
		return ctx
	}
	return context.WithValue(ctx, admissionKey{}, a)
}

// admit asks the Admitter about d (its state is stateHeld): true when it
// starts now.
func (r *Runner) admit(hard, ops context.Context, d *delivery) bool {
	r.heldN.Add(1)
	r.m.held.Inc()
	a, now := r.cfg.Admitter.Admit(d.msg, func(a Admission) { r.admitted(hard, ops, d, a) })
	if now {
		d.state.Store(stateRunning)
		d.admission = a
		r.unheld()
		return true
	}
	d.beatAt.Store(d.msg.ReceivedAt.Add(r.cfg.HeartbeatInterval).UnixNano())
	r.hmu.Lock()
	r.held = append(r.held, d) // started meanwhile: dropped by the next heartbeat round
	r.hmu.Unlock()
	return false
}

func (r *Runner) unheld() {
	r.heldN.Add(-1)
	r.m.held.Dec()
}

// admitted is the Admitter's start for d.
func (r *Runner) admitted(hard, ops context.Context, d *delivery, a Admission) {
	// A goroutine is started under mu only: Run's drain marks the held
	// deliveries released under mu before it waits for the handlers.
	r.mu.Lock()
	ok := d.state.CompareAndSwap(stateHeld, stateRunning)
	switch {
	case ok && a == nil: // given back
		d.state.Store(stateReleased)
		r.handlers.Go(func() {
			defer r.finished(d)
			r.settled(d)
			r.release(ops, []*Message{d.msg})
		})
	case ok:
		d.admission = a
		r.spawn(hard, ops, d)
	}
	r.mu.Unlock()
	if ok {
		r.unheld()
	} else if a != nil {
		a.Done() // released by the drain: never started (Done may start another: not under mu)
	}
}

// releaseHeld makes every held message visible again at once (the drain)
// and closes the Admitter. It returns how many were released.
func (r *Runner) releaseHeld(ops context.Context) int {
	if r.cfg.Admitter == nil {
		return 0
	}
	r.mu.Lock()
	r.hmu.Lock()
	var ds []*delivery
	for _, d := range r.held {
		if d.state.CompareAndSwap(stateHeld, stateReleased) {
			r.unheld()
			ds = append(ds, d)
		}
	}
	r.held = nil
	r.hmu.Unlock()
	r.mu.Unlock()
	r.cfg.Admitter.Close()
	msgs := make([]*Message, len(ds))
	for i, d := range ds {
		msgs[i] = d.msg
	}
	r.release(ops, msgs)
	for _, d := range ds {
		r.finished(d)
	}
	return len(ds)
}

// holdExtenders is how many visibility extensions of held messages run at
// once.
const holdExtenders = 4

// heldBeats keeps the held messages invisible: every quarter of
// HeartbeatInterval it extends, in batches of 10 when the source is a
// BatchExtender, those whose last extension (or receipt) is at least
// HeartbeatInterval minus a quarter old. One goroutine for all of them. It
// returns when ctx ends, with no extension in progress.
func (r *Runner) heldBeats(ctx, ops context.Context) {
	every := max(r.cfg.HeartbeatInterval/4, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		due := r.dueHeld(time.Now().Add(every))
		for i := 0; i < len(due) && ctx.Err() == nil; i += extendBatch * holdExtenders {
			var wg sync.WaitGroup
			for j := i; j < min(i+extendBatch*holdExtenders, len(due)); j += extendBatch {
				wg.Go(func() { r.extendHeld(ops, due[j:min(j+extendBatch, len(due))]) })
			}
			wg.Wait()
		}
	}
}

// dueHeld returns the held deliveries whose next extension is due by
// before, and forgets those no longer held.
func (r *Runner) dueHeld(before time.Time) []*delivery {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	var due []*delivery
	kept := r.held[:0]
	for _, d := range r.held {
		if d.state.Load() != stateHeld {
			continue
		}
		kept = append(kept, d)
		if d.beatAt.Load() <= before.UnixNano() {
			due = append(due, d)
		}
	}
	clear(r.held[len(kept):])
	r.held = kept
	return due
}

// extendHeld extends ds (at most extendBatch) and schedules their next
// extension: a HeartbeatInterval later, or at the next round after a
// failure; never again after ErrNotInFlight (another consumer may have the
// message; it is handled when it starts, as handlers are idempotent). A
// delivery that left the hold since dueHeld is not extended; one that
// leaves during the call is nacked only after it (settled).
func (r *Runner) extendHeld(ops context.Context, ds []*delivery) {
	kept := make([]*delivery, 0, len(ds))
	for _, d := range ds {
		d.ext.Lock()
		if d.state.Load() != stateHeld {
			d.ext.Unlock()
			continue
		}
		kept = append(kept, d)
	}
	ds = kept
	defer func() {
		for _, d := range ds {
			d.ext.Unlock()
		}
	}()
	if len(ds) == 0 {
		return
	}
	msgs := make([]*Message, len(ds))
	for i, d := range ds {
		msgs[i] = d.msg
	}
	at := time.Now()
	ctx, cancel := context.WithTimeout(ops, r.cfg.SourceTimeout)
	defer cancel()
	var errs []error
	if be, ok := r.cfg.Source.(BatchExtender); ok {
		errs = be.ExtendBatch(ctx, msgs, r.cfg.VisibilityTimeout)
	} else {
		errs = make([]error, len(msgs))
		for i, m := range msgs {
			errs[i] = r.cfg.Source.Extend(ctx, m, r.cfg.VisibilityTimeout)
		}
	}
	for i, d := range ds {
		err := errShortBatch
		if i < len(errs) {
			err = errs[i]
		}
		switch {
		case err == nil:
			r.m.heartbeats.Inc()
			d.extended.Store(at.UnixNano())
			d.beatAt.Store(at.Add(r.cfg.HeartbeatInterval).UnixNano())
		case errors.Is(err, ErrNotInFlight):
			r.m.errExtend.Inc()
			d.beatAt.Store(at.Add(MaxVisibility).UnixNano())
			r.log.Warn("heartbeat: held message no longer in flight; stopping its heartbeats",
				zap.String("message_id", d.msg.ID), zap.Error(err))
		default:
			r.m.errExtend.Inc()
			r.log.Warn("heartbeat: extending a held message's visibility failed",
				zap.String("message_id", d.msg.ID), zap.Error(err))
		}
	}
}
