package worker

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Final describes why a message's processing ends without success: it is
// about to be dead-lettered and will not be handled again (unless an
// operator replays it).
type Final struct {
	// DeadLetterInfo is what the dead-lettered copy carries.
	DeadLetterInfo
	// Cause is the reason code of the last handler failure (ReasonOf):
	// "timeout", "transient", "panic", a permanent reason... It is ""
	// when the message was not handled on this delivery (received after
	// its last allowed attempt, e.g. the worker handling it was killed).
	Cause string
}

// FailureReason is the reason code to record for the work the message
// carried: the handler's own reason for a failure, else the dead-letter
// reason.
func (f Final) FailureReason() string {
	if f.Cause != "" {
		return f.Cause
	}
	return SanitizeReason(f.Reason)
}

// Finalizer resolves what a message's failed processing left behind (a
// document row still marked in progress) before the message is
// dead-lettered. The runner calls it on every terminal path: a permanent
// failure, a failure on the last allowed attempt (a timeout, a panic, a
// transient error), and a message received after its last allowed attempt.
// It must be idempotent (the runner may call it again if dead-lettering
// fails and the message comes back) and must not undo the effect of a later
// successful delivery. ctx carries the message's logger (Logger) and its
// own deadline (Config.FinalizeTimeout).
type Finalizer interface {
	Finalize(ctx context.Context, m *Message, f Final) error
}

// FinalizerFunc adapts a function to Finalizer.
type FinalizerFunc func(ctx context.Context, m *Message, f Final) error

// Finalize calls f(ctx, m, fin).
func (f FinalizerFunc) Finalize(ctx context.Context, m *Message, fin Final) error {
	return f(ctx, m, fin)
}

// MaxReceiveCounter is implemented by Sources whose queue moves a message to
// a dead-letter queue by itself after some number of receives (an SQS
// redrive policy). It returns that number (0: no such policy).
type MaxReceiveCounter interface {
	QueueMaxReceiveCount(ctx context.Context) (int, error)
}

// effectiveMaxReceives is the runner's MaxReceiveCount given the queue's
// own limit queueMax (0: none). With a redrive policy the runner stops
// handling one receive before the queue would move the message: the last
// delivery the queue hands out is then seen by a runner, which finalizes a
// message whose previous handler was killed instead of the queue moving it
// silently. A negative configured value (check disabled) is kept.
func effectiveMaxReceives(configured, queueMax int) int {
	if configured < 0 || queueMax <= 0 {
		return configured
	}
	return min(configured, max(queueMax-1, 1))
}

// resolveMaxReceives asks the source for its queue's limit and sets the
// runner's effective MaxReceiveCount. A failure to ask keeps the configured
// value (logged).
func (r *Runner) resolveMaxReceives(ops context.Context) {
	r.maxReceives = r.cfg.MaxReceiveCount
	mc, ok := r.cfg.Source.(MaxReceiveCounter)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ops, r.cfg.SourceTimeout)
	defer cancel()
	queueMax, err := mc.QueueMaxReceiveCount(ctx)
	if err != nil {
		r.log.Warn("cannot read the queue's redrive policy; keeping the configured max receives",
			zap.Int("max_receives", r.cfg.MaxReceiveCount), zap.Error(err))
		return
	}
	r.maxReceives = effectiveMaxReceives(r.cfg.MaxReceiveCount, queueMax)
	switch {
	case queueMax == 1 && r.maxReceives > 0:
		r.log.Warn("the queue's redrive policy allows one receive: a message whose handler is killed is moved "+
			"to the dead-letter queue by the queue, without finalization", zap.Int("queue_max_receives", queueMax))
	case r.maxReceives != r.cfg.MaxReceiveCount:
		r.log.Info("max receives lowered below the queue's redrive policy",
			zap.Int("configured", r.cfg.MaxReceiveCount), zap.Int("queue_max_receives", queueMax),
			zap.Int("max_receives", r.maxReceives))
	}
}

// finalize runs the Finalizer (if any) before a message is dead-lettered.
// Its failure is logged and counted; the message is dead-lettered anyway
// (the DLQ keeps it, and a replay or a later delivery resolves the work).
func (r *Runner) finalize(ops context.Context, d *delivery, log *zap.Logger, f Final) {
	if r.cfg.Finalizer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ops, r.cfg.FinalizeTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, loggerKey{}, log)
	began := time.Now()
	err := r.callFinalizer(ctx, d.msg, f)
	if err != nil {
		r.m.errFinalize.Inc()
		log.Error("finalizing a dead-lettered message failed", zap.String("dead_letter_reason", f.Reason),
			zap.String("cause", f.Cause), zap.Duration("duration", time.Since(began)), zap.Error(err))
		return
	}
	log.Debug("message finalized", zap.String("dead_letter_reason", f.Reason), zap.String("cause", f.Cause),
		zap.Duration("duration", time.Since(began)))
}

func (r *Runner) callFinalizer(ctx context.Context, m *Message, f Final) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("worker: finalizer panicked: %s", TruncateText(fmt.Sprint(v), 200))
		}
	}()
	return r.cfg.Finalizer.Finalize(ctx, m, f)
}
