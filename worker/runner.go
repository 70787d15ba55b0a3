package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Runner consumes a Source with bounded concurrency. Create it with New and
// call Run once.
type Runner struct {
	cfg Config
	log *zap.Logger
	m   *runnerMetrics

	slots chan struct{} // one token per message being handled
	acks  chan *Message
	// extends carries the heartbeats' extensions to the batch loops (nil:
	// the source is no BatchExtender; each heartbeat calls Extend).
	extends chan extendReq

	mu       sync.Mutex
	inflight map[*delivery]struct{}
	handlers sync.WaitGroup

	// The deliveries kept by the Admitter (lazily pruned of those that
	// left), for their heartbeats; heldN counts them exactly.
	hmu   sync.Mutex
	held  []*delivery
	heldN atomic.Int64

	started atomic.Bool
	stats   stats

	// maxReceives is the effective MaxReceiveCount (see
	// resolveMaxReceives), set by Run before any message is received.
	maxReceives int

	// extWait, if set (tests), is called when a visibility change of m
	// has to wait for an extension of m in flight.
	extWait func(m *Message)
}

// delivery states.
const (
	stateRunning  int32 = iota
	stateDone           // the handler returned; its outcome applies
	stateReleased       // released at the drain (deadline); the outcome is dropped
	stateHeld           // kept by the Admitter: no goroutine yet
)

type delivery struct {
	msg   *Message
	state atomic.Int32
	// extended is when the message's visibility was last set (received
	// or extended), beatAt when a held message is next extended (unix
	// nanoseconds).
	extended, beatAt atomic.Int64
	admission        Admission // set before the handler starts

	mu sync.Mutex
	hb *heartbeat // nil until the handler starts

	// ext is locked while an extension of this delivery is in flight
	// (a held message's or a heartbeat's). What ends the delivery waits
	// for it (settled) before any Nack: the heartbeat's stop, and a
	// give-back. An extension answered after the Nack would hide the
	// message again for a whole visibility timeout.
	ext sync.Mutex
}

// settled returns once no extension of d is in flight. Whoever calls it
// has already moved d out of the state that is extended (held, or running
// with a live heartbeat), so none starts afterwards.
func (r *Runner) settled(d *delivery) {
	if d.ext.TryLock() {
		d.ext.Unlock()
		return
	}
	if r.extWait != nil {
		r.extWait(d.msg)
	}
	d.ext.Lock()
	d.ext.Unlock() //nolint:staticcheck // SA2001: waiting for the holder is the point
}

// ErrAlreadyStarted is returned by a second call to Run.
var ErrAlreadyStarted = errors.New("worker: runner already started")

// New validates cfg (after applying defaults) and returns a Runner.
func New(cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Metrics == nil {
		reg := cfg.Registerer
		if reg == nil {
			reg = prometheus.NewRegistry() // counted, not exported
		}
		m, err := NewMetrics(reg)
		if err != nil {
			return nil, fmt.Errorf("worker: register metrics: %w", err)
		}
		cfg.Metrics = m
	}
	r := &Runner{
		cfg:      cfg,
		log:      cfg.Logger.With(zap.String("runner", cfg.Name)),
		m:        cfg.Metrics.forRunner(cfg.Name),
		slots:    make(chan struct{}, cfg.Concurrency),
		acks:     make(chan *Message, cfg.Concurrency+ackBatch),
		inflight: map[*delivery]struct{}{},
	}
	if _, ok := cfg.Source.(BatchExtender); ok && cfg.HeartbeatInterval > 0 {
		r.extends = make(chan extendReq)
	}
	return r, nil
}

// Run receives and handles messages until ctx is cancelled, then drains:
// it stops receiving, waits up to DrainTimeout for in-flight handlers, then
// cancels the handlers still running and makes their messages visible again
// at once, flushes pending acks, and returns nil once every handler has
// returned. A handler that ignores its cancelled context delays Run's
// return, but its message is visible again already.
//
// If the source reports ErrSourceClosed, Run drains the same way and returns
// an error wrapping it.
func (r *Runner) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return ErrAlreadyStarted
	}
	// Handlers outlive ctx during the drain; hard is cancelled at the
	// drain deadline. Source operations use ops, which is never cancelled
	// (each call has its own timeout).
	ops := context.WithoutCancel(ctx)
	hard, hardCancel := context.WithCancel(ops)
	defer hardCancel()
	r.resolveMaxReceives(ops)

	var ackers, extenders sync.WaitGroup
	for range r.cfg.Pollers {
		ackers.Go(func() { r.ackLoop(ops) })
	}
	if be, ok := r.cfg.Source.(BatchExtender); ok && r.extends != nil {
		for range r.cfg.Pollers {
			extenders.Go(func() { r.extendLoop(ops, be) })
		}
	}

	// One goroutine keeps every held message invisible (none when nothing
	// can be held).
	var beats sync.WaitGroup
	beatCtx, stopBeats := context.WithCancel(ops)
	defer stopBeats()
	if r.cfg.Admitter != nil && r.cfg.HeartbeatInterval > 0 {
		beats.Go(func() { r.heldBeats(beatCtx, ops) })
	}

	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	var closed atomic.Bool
	var pollers sync.WaitGroup
	extra := 0
	if r.cfg.Burst != nil {
		extra = r.cfg.ExtraPollers
	}
	for i := range r.cfg.Pollers + extra {
		var when func() bool
		if i >= r.cfg.Pollers {
			when = r.cfg.Burst
		}
		pollers.Go(func() {
			if r.poll(pollCtx, hard, ops, when) {
				closed.Store(true)
				stopPolling()
			}
		})
	}
	r.log.Info("worker started",
		zap.Int("concurrency", r.cfg.Concurrency), zap.Int("pollers", r.cfg.Pollers),
		zap.Duration("visibility_timeout", r.cfg.VisibilityTimeout), zap.Int("max_receives", r.maxReceives))
	pollers.Wait()
	// Held messages go back to the queue at once rather than wait out the
	// drain (no extension may follow their release).
	stopBeats()
	beats.Wait()
	held := r.releaseHeld(ops)

	r.log.Info("worker draining", zap.Int("in_flight", r.inFlight()), zap.Int("held_released", held),
		zap.Duration("drain_timeout", r.cfg.DrainTimeout))
	handlersDone := make(chan struct{})
	go func() {
		r.handlers.Wait()
		close(handlersDone)
	}()
	timer := time.NewTimer(r.cfg.DrainTimeout)
	defer timer.Stop()
	select {
	case <-handlersDone:
	case <-timer.C:
		hardCancel()
		n := r.releaseAll(ops)
		r.log.Warn("drain deadline passed: handlers cancelled, messages made visible again", zap.Int("released", n))
		<-handlersDone
	}
	close(r.acks)
	ackers.Wait()
	if r.extends != nil {
		close(r.extends) // every heartbeat has stopped: handlers stop theirs before returning
		extenders.Wait()
	}
	r.log.Info("worker stopped", zap.Int64("handled", r.stats.succeeded.Load()+r.stats.failed.Load()))
	if closed.Load() {
		return fmt.Errorf("worker: stopped: %w", ErrSourceClosed)
	}
	return nil
}

// poll receives while ctx is live (and, if when is not nil, while when
// reports true). It reports whether the source is closed.
func (r *Runner) poll(ctx, hard, ops context.Context, when func() bool) (closed bool) {
	failures := 0
	for {
		if when != nil && !waitUntil(ctx, when) {
			return false
		}
		// Wait for one free slot, then take any others free, up to a batch.
		select {
		case <-ctx.Done():
			return false
		case r.slots <- struct{}{}:
		}
		n := 1
	fill:
		for n < r.cfg.BatchSize {
			select {
			case r.slots <- struct{}{}:
				n++
			default:
				break fill
			}
		}
		msgs, err := r.cfg.Source.Receive(ctx, n)
		if len(msgs) > n {
			r.log.Error("source returned more messages than asked for; releasing the extra ones",
				zap.Int("asked", n), zap.Int("got", len(msgs)))
			r.release(ops, msgs[n:])
			msgs = msgs[:n]
		}
		for range n - len(msgs) {
			<-r.slots
		}
		if ctx.Err() != nil {
			// Received as we were stopping: never started, visible again now.
			r.release(ops, msgs)
			r.freeSlots(len(msgs))
			return false
		}
		if err != nil {
			if errors.Is(err, ErrSourceClosed) {
				r.release(ops, msgs)
				r.freeSlots(len(msgs))
				return true
			}
			r.m.errReceive.Inc()
			failures++
			wait := Backoff(failures, 100*time.Millisecond, 30*time.Second)
			r.log.Warn("receive failed", zap.Error(err), zap.Int("consecutive_failures", failures), zap.Duration("retry_in", wait))
			if len(msgs) == 0 {
				if !sleep(ctx, wait) {
					return false
				}
				continue
			}
		} else {
			failures = 0
		}
		for _, m := range msgs {
			r.start(hard, ops, m)
		}
	}
}

func (r *Runner) freeSlots(n int) {
	for range n {
		<-r.slots
	}
}

// start handles m in its own goroutine, now or when the Admitter starts
// it; the caller holds a slot for it.
func (r *Runner) start(hard, ops context.Context, m *Message) {
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = time.Now()
	}
	r.stats.received.Add(1)
	r.m.receivedMsg(m.ReceivedAt.Sub(m.SentAt), !m.SentAt.IsZero())
	d := &delivery{msg: m}
	d.extended.Store(m.ReceivedAt.UnixNano())
	r.mu.Lock()
	r.inflight[d] = struct{}{}
	r.mu.Unlock()
	r.stats.inFlight.Add(1)
	r.m.inFlight.Inc()
	if r.cfg.Admitter != nil && !r.overReceived(m) {
		d.state.Store(stateHeld)
		if !r.admit(hard, ops, d) {
			return // held: started by the Admitter
		}
	}
	r.spawn(hard, ops, d)
}

// spawn runs d's handler in its own goroutine.
func (r *Runner) spawn(hard, ops context.Context, d *delivery) {
	r.handlers.Go(func() {
		defer r.finished(d)
		if d.admission != nil {
			defer d.admission.Done()
		}
		r.process(hard, ops, d)
	})
}

// finished frees d's slot.
func (r *Runner) finished(d *delivery) {
	r.mu.Lock()
	delete(r.inflight, d)
	r.mu.Unlock()
	r.stats.inFlight.Add(-1)
	r.m.inFlight.Dec()
	<-r.slots
}

// overReceived reports whether m was received after its last allowed
// attempt.
func (r *Runner) overReceived(m *Message) bool {
	return r.maxReceives > 0 && m.ReceiveCount > r.maxReceives
}

func (r *Runner) inFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inflight)
}

func (r *Runner) process(hard, ops context.Context, d *delivery) {
	m := d.msg
	log := r.log.With(zap.String("message_id", m.ID), zap.Int("receive_count", m.ReceiveCount))

	if r.overReceived(m) {
		// Received again after its last allowed attempt (a crash, a lost
		// visibility): not handled again, but finalized.
		d.state.Store(stateDone)
		r.deadLetter(ops, d, log, nil, "", DeadLetterInfo{
			Reason:   ReasonMaxReceives,
			Stage:    "receive",
			Error:    fmt.Sprintf("received %d times, more than the maximum %d", m.ReceiveCount, r.maxReceives),
			Attempts: m.ReceiveCount,
		})
		return
	}

	st := &msgState{msg: m}
	ctx, cancel := context.WithCancel(hard)
	defer cancel()
	// The message's span continues the producer's trace (W3C traceparent in
	// the message attributes) or starts one; the handler's spans (stages,
	// tenant transactions) nest under it.
	ctx, span := startSpan(ctx, r.cfg.Name, m)
	defer span.End()
	ctx = context.WithValue(ctx, stateKey{}, st)
	ctx = context.WithValue(ctx, loggerKey{}, log)
	ctx = WithAdmission(ctx, d.admission)
	hb := r.startHeartbeat(ops, d, st, log)
	d.mu.Lock()
	d.hb = hb
	released := d.state.Load() == stateReleased
	d.mu.Unlock()
	if released {
		hb.stop() // released before it started: never heartbeat it
	}

	began := time.Now()
	err := r.invoke(ctx, m)
	took := time.Since(began)
	hb.stop()
	cancel()

	log = log.With(st.logFields()...)
	if !d.state.CompareAndSwap(stateRunning, stateDone) {
		log.Debug("handler returned after its message was released", zap.Duration("duration", took),
			zap.String("reason", ReasonOf(err)))
		return
	}
	r.m.handled(took, err == nil)
	endSpan(span, err)
	r.settle(hard, ops, d, log, err, took)
}

// invoke runs the handler, turning a panic into a *PanicError.
func (r *Runner) invoke(ctx context.Context, m *Message) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return r.cfg.Handler.Handle(ctx, m)
}

// settle applies the outcome of a handled message and logs it once.
func (r *Runner) settle(hard, ops context.Context, d *delivery, log *zap.Logger, err error, took time.Duration) {
	m := d.msg
	if err == nil {
		r.stats.succeeded.Add(1)
		r.m.succeeded.Inc()
		r.acks <- m
		log.Debug("message handled", zap.Duration("duration", took))
		return
	}
	reason := ReasonOf(err)
	r.stats.failed.Add(1)
	r.m.failedMsg(reason)
	fields := []zap.Field{zap.String("reason", reason), zap.Duration("duration", took), zap.Error(err)}
	if stage := StageOf(err); stage != "" {
		fields = append(fields, zap.String("stage", stage))
	}
	var pe *PanicError
	if errors.As(err, &pe) {
		fields = append(fields, zap.ByteString("stack", pe.Stack))
	}

	switch {
	case IsPermanent(err):
		r.deadLetter(ops, d, log, fields, reason, DeadLetterInfo{
			Reason: reason, Stage: StageOf(err), Error: err.Error(), Attempts: m.ReceiveCount,
		})
	case hard.Err() != nil:
		// Cancelled by the drain deadline: not the message's fault.
		r.nack(ops, d, log, 0)
		r.stats.released.Add(1)
		r.m.released.Inc()
		log.Warn("message released: handler cancelled at the drain deadline", fields...)
	case r.maxReceives > 0 && m.ReceiveCount >= r.maxReceives:
		r.deadLetter(ops, d, log, fields, reason, DeadLetterInfo{
			Reason: ReasonMaxReceives, Stage: StageOf(err), Error: reason + ": " + err.Error(), Attempts: m.ReceiveCount,
		})
	default:
		delay, ok := RetryDelay(err)
		if !ok {
			delay = Backoff(m.ReceiveCount, r.cfg.BackoffBase, r.cfg.BackoffMax)
		}
		delay = min(delay, MaxVisibility)
		r.nack(ops, d, log, delay)
		r.stats.retried.Add(1)
		r.m.retried.Inc()
		level := zap.WarnLevel
		if pe != nil {
			level = zap.ErrorLevel
		}
		log.Log(level, "message failed; will retry", append(fields, zap.Duration("retry_in", delay))...)
	}
}

func (r *Runner) nack(ops context.Context, d *delivery, log *zap.Logger, delay time.Duration) {
	ctx, cancel := context.WithTimeout(ops, r.cfg.SourceTimeout)
	defer cancel()
	if err := r.cfg.Source.Nack(ctx, d.msg, delay); err != nil {
		r.m.errNack.Inc()
		log.Warn("nack failed; the message comes back when its visibility expires", zap.Error(err))
	}
}

// deadLetter finalizes the message (cause: the reason code of the last
// handler failure, "" if not handled on this delivery) and sends it to the
// DLQ; on failure it puts the message back with a delay (the queue's redrive
// policy or a later attempt moves it).
func (r *Runner) deadLetter(ops context.Context, d *delivery, log *zap.Logger, fields []zap.Field, cause string, info DeadLetterInfo) {
	info.Reason = SanitizeReason(info.Reason)
	r.finalize(ops, d, log, Final{DeadLetterInfo: info, Cause: cause})
	ctx, cancel := context.WithTimeout(ops, r.cfg.SourceTimeout)
	err := r.cfg.Source.DeadLetter(ctx, d.msg, info)
	cancel()
	if fields == nil {
		fields = []zap.Field{zap.String("reason", info.Reason)}
	}
	if err != nil {
		r.m.errDeadLetter.Inc()
		delay := Backoff(d.msg.ReceiveCount, r.cfg.BackoffBase, r.cfg.BackoffMax)
		if errors.Is(err, ErrNoDeadLetterQueue) {
			delay = r.cfg.BackoffMax
		}
		r.nack(ops, d, log, delay)
		log.Error("dead-lettering failed; message put back", append(fields,
			zap.String("dead_letter_reason", info.Reason), zap.NamedError("dead_letter_error", err),
			zap.Duration("retry_in", delay))...)
		return
	}
	r.stats.deadLettered.Add(1)
	r.m.deadLetteredMsg(info.Reason)
	log.Error("message dead-lettered", append(fields, zap.String("dead_letter_reason", info.Reason),
		zap.Int("attempts", info.Attempts))...)
}

// releasers bounds the Nack calls of one release (a drain may release
// thousands of held messages).
const releasers = 16

// release makes never-started messages visible again at once.
func (r *Runner) release(ops context.Context, msgs []*Message) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, releasers)
	for _, m := range msgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(ops, r.cfg.SourceTimeout)
			defer cancel()
			if err := r.cfg.Source.Nack(ctx, m, 0); err != nil {
				r.m.errNack.Inc()
				r.log.Warn("releasing an unstarted message failed", zap.String("message_id", m.ID), zap.Error(err))
				return
			}
			r.stats.released.Add(1)
			r.m.released.Inc()
		})
	}
	wg.Wait()
}

// releaseAll releases every still-running delivery (at the drain deadline):
// its outcome will be dropped, its heartbeat stopped, its message made
// visible at once. It returns how many were released.
func (r *Runner) releaseAll(ops context.Context) int {
	r.mu.Lock()
	var ds []*delivery
	for d := range r.inflight {
		if d.state.CompareAndSwap(stateRunning, stateReleased) {
			ds = append(ds, d)
		}
	}
	r.mu.Unlock()
	msgs := make([]*Message, 0, len(ds))
	for _, d := range ds {
		d.mu.Lock()
		hb := d.hb
		d.mu.Unlock()
		if hb != nil {
			hb.stop() // no extension may follow the release
		}
		msgs = append(msgs, d.msg)
	}
	r.release(ops, msgs)
	return len(ds)
}

// burstCheck is how often an extra poller checks Config.Burst while false.
const burstCheck = 20 * time.Millisecond

// waitUntil waits until cond reports true (false: ctx ended first).
func waitUntil(ctx context.Context, cond func() bool) bool {
	for !cond() {
		if !sleep(ctx, burstCheck) {
			return false
		}
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
