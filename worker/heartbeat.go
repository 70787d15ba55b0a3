package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
)

// heartbeat keeps one running message invisible: every HeartbeatInterval it
// extends the visibility by VisibilityTimeout (batched with other messages'
// heartbeats when the source is a BatchExtender), then calls OnHeartbeat with
// the handler's latest progress. It is throttled by construction: progress
// recorded between ticks costs nothing.
type heartbeat struct {
	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
	settle func() // waits for an extension in flight (nil: none)
}

// stop ends the heartbeat and waits until no extension is in progress (an
// extension once sent is waited for, never abandoned), so nothing extends
// the message after stop returns. It is idempotent.
func (h *heartbeat) stop() {
	h.once.Do(h.cancel)
	if h.settle != nil {
		h.settle()
	}
	<-h.done
}

func (r *Runner) startHeartbeat(ops context.Context, d *delivery, st *msgState, log *zap.Logger) *heartbeat {
	if r.cfg.HeartbeatInterval <= 0 {
		h := &heartbeat{cancel: func() {}, done: make(chan struct{})}
		close(h.done)
		return h
	}
	ctx, cancel := context.WithCancel(ops) //nolint:gosec // G118: cancel is kept in h and called by stop
	h := &heartbeat{cancel: cancel, done: make(chan struct{}), settle: func() { r.settled(d) }}
	go func() {
		defer close(h.done)
		// The first beat comes a HeartbeatInterval after the visibility
		// was last set (received, or extended while held).
		since := time.Since(time.Unix(0, d.extended.Load()))
		t := time.NewTimer(min(max(r.cfg.HeartbeatInterval-since, 0), r.cfg.HeartbeatInterval))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			t.Reset(r.cfg.HeartbeatInterval)
			// Under d.ext: stop waits for the extension (settled);
			// none starts once stop has cancelled ctx.
			d.ext.Lock()
			if ctx.Err() != nil {
				d.ext.Unlock()
				return
			}
			err := r.extend(ctx, d.msg)
			d.ext.Unlock()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				r.m.errExtend.Inc()
				if errors.Is(err, ErrNotInFlight) {
					// Another consumer may have it now; the handler goes on
					// (handlers are idempotent) but extending is pointless.
					log.Warn("heartbeat: message no longer in flight; stopping heartbeats", zap.Error(err))
					return
				}
				log.Warn("heartbeat: extending visibility failed", zap.Error(err))
				continue
			}
			r.m.heartbeats.Inc()
			if r.cfg.OnHeartbeat != nil {
				if err := r.cfg.OnHeartbeat(ctx, d.msg, st.lastProgress()); err != nil && ctx.Err() == nil {
					log.Warn("heartbeat hook failed", zap.Error(err))
				}
			}
		}
	}()
	return h
}
