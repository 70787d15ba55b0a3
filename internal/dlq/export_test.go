package dlq

import (
	"context"
	"time"
)

// SetSleep replaces the Replayer's pacing sleep (tests pair it with a fake
// clock in Now).
func SetSleep(c *ReplayConfig, sleep func(ctx context.Context, d time.Duration) error) {
	c.sleep = sleep
}

// ApproximateCount is the queue's visible plus in-flight messages, as the
// scans read it.
func ApproximateCount(ctx context.Context, api API, queueURL string) (int, error) {
	n, _, err := approximateCount(ctx, api, queueURL)
	return n, err
}
