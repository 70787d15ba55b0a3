package worker

import (
	"context"
	"errors"
	"time"
)

// BatchExtender is a Source that can extend the visibility of several
// deliveries in one call (SQS's ChangeMessageVisibilityBatch). The runner's
// heartbeats use it when its Source has it, so a worker holding thousands
// of messages sends a tenth as many extension calls.
type BatchExtender interface {
	// ExtendBatch keeps each of msgs (at most 10) hidden for d from now, as
	// Extend does one. It returns one error per message, in order (nil:
	// extended; wrapping ErrNotInFlight: that delivery is no longer held);
	// a failed call fails every message.
	ExtendBatch(ctx context.Context, msgs []*Message, d time.Duration) []error
}

// extendBatch is the most extensions one ExtendBatch call carries (SQS's
// batch limit).
const extendBatch = 10

// extendWindow is how long the first heartbeat of a batch waits for others:
// the messages of one receive start, and so beat, within it.
const extendWindow = 50 * time.Millisecond

// errShortBatch answers a message an ExtendBatch call returned no error for.
var errShortBatch = errors.New("worker: the source answered fewer extensions than asked")

// extendReq is one heartbeat's extension, answered on done (buffered).
type extendReq struct {
	m    *Message
	done chan error
}

// extend extends m's visibility by VisibilityTimeout: through the batch
// loops when the source is a BatchExtender, else with its own call. Once the
// request is sent (or taken by a batch loop) it waits for the answer
// whatever ctx does, up to SourceTimeout: a call abandoned on cancellation
// may still reach the queue after the Nack that follows, and hide the
// message again.
func (r *Runner) extend(ctx context.Context, m *Message) error {
	if r.extends == nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.SourceTimeout)
		defer cancel()
		return r.cfg.Source.Extend(ectx, m, r.cfg.VisibilityTimeout)
	}
	req := extendReq{m: m, done: make(chan error, 1)}
	select {
	case r.extends <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-req.done
}

// extendLoop sends the heartbeats' extensions in batches: it takes one, then
// the others that arrive within extendWindow, up to extendBatch. It returns
// when r.extends is closed and empty.
func (r *Runner) extendLoop(ops context.Context, be BatchExtender) {
	batch := make([]extendReq, 0, extendBatch)
	for req := range r.extends {
		batch = gather(r.extends, batch, req, extendBatch, extendWindow)
		msgs := make([]*Message, len(batch))
		for i, req := range batch {
			msgs[i] = req.m
		}
		ctx, cancel := context.WithTimeout(ops, r.cfg.SourceTimeout)
		errs := be.ExtendBatch(ctx, msgs, r.cfg.VisibilityTimeout)
		cancel()
		for i, req := range batch {
			var err error
			if i < len(errs) {
				err = errs[i]
			} else {
				err = errShortBatch
			}
			req.done <- err
		}
	}
}
