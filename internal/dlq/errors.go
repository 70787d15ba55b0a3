package dlq

import "errors"

var (
	// ErrInvalidConfig is wrapped by the constructors' validation errors.
	ErrInvalidConfig = errors.New("dlq: invalid config")
	// ErrUnsupported means the SQS server does not implement an operation
	// (fauxqs has no message-move tasks and no ListDeadLetterSourceQueues).
	ErrUnsupported = errors.New("dlq: operation not supported by this SQS server")
	// ErrNoSourceQueue means no queue names the DLQ in its redrive policy, so
	// a replay needs an explicit target.
	ErrNoSourceQueue = errors.New("dlq: no source queue found for this DLQ")
	// ErrAmbiguousSourceQueue means several queues use the DLQ; a replay
	// needs an explicit target.
	ErrAmbiguousSourceQueue = errors.New("dlq: several source queues use this DLQ")
)

// ReasonMixedTenants: one message holds events of several tenants. The
// other reasons a message does not verify are the gate's own
// (internal/binding, internal/envelope, internal/event), read from the error
// with outcome.Classify like every transport does.
const ReasonMixedTenants = "mixed_tenants"
