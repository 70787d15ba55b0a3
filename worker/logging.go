package worker

import (
	"context"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Logging logs the start and end of each handling at level (Debug is
// typical) with the message's logger (Logger(ctx)), including the duration
// and the reason of a failure. It does not replace the runner's outcome
// line, which is always written once per message; use it to trace a stack of
// middleware (place it where you want timing from).
func Logging(level zapcore.Level) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) error {
			log := Logger(ctx)
			if ce := log.Check(level, "handler started"); ce != nil {
				ce.Write(zap.Int("body_bytes", len(m.Body)))
			}
			began := time.Now()
			err := next.Handle(ctx, m)
			if ce := Logger(ctx).Check(level, "handler finished"); ce != nil {
				ce.Write(zap.Duration("duration", time.Since(began)), zap.String("reason", ReasonOf(err)))
			}
			return err
		})
	}
}
