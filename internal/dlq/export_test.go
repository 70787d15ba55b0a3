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
