package worker

import "time"

// gather returns batch[:0] with first and then more items from ch, up to
// max: with window 0 only those already queued (a lone item is not
// delayed), otherwise those arriving within window of the first. It stops
// early when ch is closed.
func gather[T any](ch <-chan T, batch []T, first T, max int, window time.Duration) []T {
	batch = append(batch[:0], first)
	var expired <-chan time.Time // nil with window 0: never ready
	if window > 0 {
		t := time.NewTimer(window)
		defer t.Stop()
		expired = t.C
	}
	for len(batch) < max {
		var (
			v  T
			ok bool
		)
		if window > 0 {
			select {
			case v, ok = <-ch:
			case <-expired:
				return batch
			}
		} else {
			select {
			case v, ok = <-ch:
			default:
				return batch
			}
		}
		if !ok {
			return batch
		}
		batch = append(batch, v)
	}
	return batch
}
