package worker

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Timeout bounds the wrapped handler: its context is cancelled after d with
// ErrHandlerTimeout as the cause. If the handler then fails, its error wraps
// ErrHandlerTimeout (reason "timeout", retried like a transient error). A
// handler that finishes successfully despite the deadline succeeds. The
// heartbeat keeps the message invisible meanwhile, so d may exceed the
// visibility timeout.
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) error {
			ctx, cancel := context.WithTimeoutCause(ctx, d, ErrHandlerTimeout)
			defer cancel()
			err := next.Handle(ctx, m)
			if err != nil && errors.Is(context.Cause(ctx), ErrHandlerTimeout) && !errors.Is(err, ErrHandlerTimeout) {
				return fmt.Errorf("%w after %s: %w", ErrHandlerTimeout, d, err)
			}
			return err
		})
	}
}
