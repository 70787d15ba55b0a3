package worker

import (
	"context"
	"errors"
	"time"
)

// Source is a queue the runner consumes. Implementations must be safe for
// concurrent use and must pass the conformance suite in worker/sourcetest.
//
// Every method takes the delivery (Message.Handle), not the message id: an
// operation on a delivery that is no longer held (its visibility expired and
// it was received again, or it was deleted) fails with ErrNotInFlight, except
// Ack, which may succeed silently as SQS's DeleteMessage does.
type Source interface {
	// Receive waits for up to max (1..10) messages and returns them
	// hidden from other consumers for the source's visibility timeout. It
	// may return fewer, or none after its long-poll wait; it never returns
	// more than max. When ctx is cancelled it returns promptly with an
	// error wrapping ctx.Err(). After Close (where a Source has one) it
	// returns ErrSourceClosed.
	Receive(ctx context.Context, max int) ([]*Message, error)
	// Ack deletes the messages (in batches where the transport allows).
	Ack(ctx context.Context, msgs ...*Message) error
	// Nack makes the message visible again after delay (0: at once). The
	// delivery counts as a receive: the next delivery's ReceiveCount is
	// one higher.
	Nack(ctx context.Context, m *Message, delay time.Duration) error
	// Extend keeps the message hidden for d from now (a heartbeat).
	Extend(ctx context.Context, m *Message, d time.Duration) error
	// DeadLetter sends a copy of the message (same body, same attributes,
	// plus the attributes of DeadLetterAttributes) to the dead-letter
	// queue, then deletes the original. Without a dead-letter queue it
	// returns ErrNoDeadLetterQueue and leaves the message alone.
	DeadLetter(ctx context.Context, m *Message, info DeadLetterInfo) error
}

var (
	// ErrNotInFlight means the delivery is no longer held by this consumer:
	// its visibility timeout expired or it was deleted.
	ErrNotInFlight = errors.New("worker: message no longer in flight")
	// ErrNoDeadLetterQueue is returned by DeadLetter when the source has no
	// dead-letter queue configured.
	ErrNoDeadLetterQueue = errors.New("worker: no dead-letter queue configured")
	// ErrSourceClosed is returned by Receive after the source was closed;
	// Run returns it (wrapped) after draining.
	ErrSourceClosed = errors.New("worker: source closed")
)
