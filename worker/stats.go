package worker

import "sync/atomic"

// Stats are a runner's counters since it started (for tests, demos and
// "run until the queue is empty" loops; dashboards use Metrics).
type Stats struct {
	Received     int64 // deliveries received
	Succeeded    int64 // handled without error
	Failed       int64 // handled with an error (retried, dead-lettered or released)
	Retried      int64 // put back with a backoff delay
	DeadLettered int64 // sent to the dead-letter queue
	Released     int64 // made visible again at once (drain)
	Acked        int64 // deleted after success
	InFlight     int64 // being handled now
}

type stats struct {
	received, succeeded, failed, retried, deadLettered, released, acked, inFlight atomic.Int64
}

// Stats returns a snapshot of the runner's counters.
func (r *Runner) Stats() Stats {
	s := &r.stats
	return Stats{
		Received: s.received.Load(), Succeeded: s.succeeded.Load(), Failed: s.failed.Load(),
		Retried: s.retried.Load(), DeadLettered: s.deadLettered.Load(), Released: s.released.Load(),
		Acked: s.acked.Load(), InFlight: s.inFlight.Load(),
	}
}
