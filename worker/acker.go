package worker

import (
	"context"

	"go.uber.org/zap"
)

// ackBatch is the most deletes one Ack call carries (SQS's batch limit).
const ackBatch = 10

// ackLoop deletes succeeded messages in batches: it takes one, then whatever
// else is already queued (up to ackBatch), so batches fill under load and a
// lone message is not delayed. It returns when r.acks is closed and empty.
func (r *Runner) ackLoop(ops context.Context) {
	batch := make([]*Message, 0, ackBatch)
	for m := range r.acks {
		batch = gather(r.acks, batch, m, ackBatch, 0)
		r.flushAcks(ops, batch)
	}
}

func (r *Runner) flushAcks(ops context.Context, batch []*Message) {
	var err error
	for range 2 { // one retry: a failed delete means a redelivery, which handlers absorb, but is wasteful
		ctx, cancel := context.WithTimeout(ops, r.cfg.SourceTimeout)
		err = r.cfg.Source.Ack(ctx, batch...)
		cancel()
		if err == nil {
			r.stats.acked.Add(int64(len(batch)))
			return
		}
	}
	r.m.errAck.Inc()
	ids := make([]string, len(batch))
	for i, m := range batch {
		ids[i] = m.ID
	}
	r.log.Warn("ack failed; the messages will be delivered again", zap.Strings("message_ids", ids), zap.Error(err))
}
