package breaker_test

import "time"

func timeIt(f func()) float64 {
	start := time.Now()
	f()
	return float64(time.Since(start))
}
