package worker

import (
	"testing"
	"time"
)

func TestBackoffCeiling(t *testing.T) {
	t.Parallel()
	const base, maxD = time.Second, time.Minute
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{-3, time.Second}, {0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{6, 32 * time.Second}, {7, time.Minute}, {64, time.Minute}, {1 << 30, time.Minute},
	}
	for _, tc := range tests {
		if got := backoffCeiling(tc.attempt, base, maxD); got != tc.want {
			t.Errorf("ceiling(%d) = %s, want %s", tc.attempt, got, tc.want)
		}
	}
	if got := backoffCeiling(3, 0, maxD); got != 0 {
		t.Errorf("zero base: %s", got)
	}
	if got := backoffCeiling(100, time.Duration(1<<62), time.Duration(1<<62)); got != time.Duration(1<<62) {
		t.Errorf("no overflow near the int64 limit: %s", got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	t.Parallel()
	// The random draw spans [0, ceiling] inclusive.
	lowest := func(n int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	if got := backoff(3, time.Second, time.Minute, lowest); got != 0 {
		t.Errorf("lowest draw = %s", got)
	}
	if got := backoff(3, time.Second, time.Minute, highest); got != 4*time.Second {
		t.Errorf("highest draw = %s, want 4s", got)
	}
	for i := range 1000 {
		if d := Backoff(i%10+1, 10*time.Millisecond, time.Second); d < 0 || d > time.Second {
			t.Fatalf("Backoff out of range: %s", d)
		}
	}
}
