package worker

import "context"

// Handler processes one message. Its returned error decides the outcome (see
// the package doc): nil acks, Permanent dead-letters, RetryAfter and other
// errors retry later. Handlers must be idempotent: a message can be delivered
// more than once.
//
// ctx is cancelled when the drain deadline passes during shutdown; it carries
// the per-message logger (Logger) and accepts progress (RecordHeartbeat).
type Handler interface {
	Handle(ctx context.Context, m *Message) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m *Message) error

// Handle calls f(ctx, m).
func (f HandlerFunc) Handle(ctx context.Context, m *Message) error { return f(ctx, m) }

// Middleware wraps a Handler (to verify, log, time out, recover...).
type Middleware func(Handler) Handler

// Chain wraps h in mws; the first middleware is the outermost:
// Chain(h, a, b) handles a message as a(b(h)).
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
