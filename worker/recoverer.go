package worker

import (
	"context"
	"runtime/debug"
)

// Recoverer turns a panic in the wrapped handler into a *PanicError (retried
// like a transient error, dead-lettered after MaxReceiveCount). The runner
// recovers panics anyway; use Recoverer to place the recovery inside other
// middleware, so that middleware sees the panic as an error.
func Recoverer() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) (err error) {
			defer func() {
				if v := recover(); v != nil {
					err = &PanicError{Value: v, Stack: debug.Stack()}
				}
			}()
			return next.Handle(ctx, m)
		})
	}
}
