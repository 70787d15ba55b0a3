package worker

import (
	"context"
	"sync"

	"go.uber.org/zap"
)

type loggerKey struct{}
type stateKey struct{}

// msgState is shared by everything handling one delivery: the fields added
// by middleware (so the runner's outcome line carries them too) and the last
// progress recorded by the handler.
type msgState struct {
	msg *Message

	mu       sync.Mutex
	fields   []zap.Field
	progress any
}

func (s *msgState) addFields(fs []zap.Field) {
	s.mu.Lock()
	s.fields = append(s.fields, fs...)
	s.mu.Unlock()
}

func (s *msgState) logFields() []zap.Field {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]zap.Field(nil), s.fields...)
}

func (s *msgState) setProgress(p any) {
	s.mu.Lock()
	s.progress = p
	s.mu.Unlock()
}

func (s *msgState) lastProgress() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progress
}

func stateFrom(ctx context.Context) *msgState {
	s, _ := ctx.Value(stateKey{}).(*msgState)
	return s
}

// Logger returns the logger of the message being handled: the runner's
// logger with message_id and receive_count, plus every field added with
// WithLogFields. Outside a handler it returns a no-op logger.
func Logger(ctx context.Context) *zap.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*zap.Logger); ok {
		return l
	}
	return zap.NewNop()
}

// WithLogFields returns a context whose Logger has fields added. Inside a
// handler the fields are also attached to the message itself, so the
// runner's outcome line for the message carries them (the tenant wrapper
// adds tenant_id and job_id this way). Never add document text or secrets.
func WithLogFields(ctx context.Context, fields ...zap.Field) context.Context {
	if len(fields) == 0 {
		return ctx
	}
	if s := stateFrom(ctx); s != nil {
		s.addFields(fields)
	}
	spanFields(ctx, fields)
	return context.WithValue(ctx, loggerKey{}, Logger(ctx).With(fields...))
}

// RecordHeartbeat records the handler's progress. It is cheap and may be
// called often: the runner extends the message's visibility on its own
// schedule (Config.HeartbeatInterval) whether or not this is called, and
// passes the latest progress to Config.OnHeartbeat. Outside a handler it
// does nothing.
func RecordHeartbeat(ctx context.Context, progress any) {
	if s := stateFrom(ctx); s != nil {
		s.setProgress(progress)
	}
}

// MessageFrom returns the message being handled, for code that only has the
// context.
func MessageFrom(ctx context.Context) (*Message, bool) {
	if s := stateFrom(ctx); s != nil {
		return s.msg, true
	}
	return nil, false
}
