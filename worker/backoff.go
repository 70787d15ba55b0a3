package worker

import (
	"math/rand/v2"
	"time"
)

// Backoff returns the retry delay for a message on its attempt-th receive
// (1-based): exponential with full jitter, a uniformly random duration in
// [0, min(max, base·2^(attempt-1))].
func Backoff(attempt int, base, max time.Duration) time.Duration {
	return backoff(attempt, base, max, rand.Int64N)
}

func backoff(attempt int, base, maxDelay time.Duration, int64n func(int64) int64) time.Duration {
	c := backoffCeiling(attempt, base, maxDelay)
	if c <= 0 {
		return 0
	}
	return time.Duration(int64n(int64(c) + 1))
}

// backoffCeiling is min(max, base·2^(attempt-1)) without overflow.
func backoffCeiling(attempt int, base, maxDelay time.Duration) time.Duration {
	if base <= 0 || maxDelay <= 0 {
		return 0
	}
	attempt = max(attempt, 1)
	c := base
	for i := 1; i < attempt; i++ {
		if c >= maxDelay/2 {
			return maxDelay
		}
		c *= 2
	}
	return min(c, maxDelay)
}
