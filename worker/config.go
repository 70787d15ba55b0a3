package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultConcurrency       = 10
	DefaultPollers           = 2
	DefaultBatchSize         = 10
	DefaultVisibilityTimeout = 30 * time.Second
	DefaultMaxReceiveCount   = 5
	DefaultBackoffBase       = time.Second
	DefaultBackoffMax        = 5 * time.Minute
	DefaultDrainTimeout      = 25 * time.Second
	DefaultSourceTimeout     = 10 * time.Second
	DefaultFinalizeTimeout   = 30 * time.Second

	// MaxVisibility is the longest visibility timeout or delay SQS accepts.
	MaxVisibility = 12 * time.Hour
)

// Config configures a Runner. Zero fields take the defaults above.
type Config struct {
	// Source is the queue to consume. Required.
	Source Source
	// Handler handles each message. Required.
	Handler Handler
	// Name names the runner in logs and in the "runner" metric label
	// (default "default"); give each runner sharing a Metrics its own.
	Name string

	// Concurrency is the most messages handled at once, held by the
	// Admitter included. The runner never receives more messages than it
	// has free slots.
	Concurrency int
	// Pollers is the number of goroutines receiving (each waits for free
	// slots, then long-polls for up to BatchSize messages).
	Pollers int
	// BatchSize is the most messages one receive asks for (1..10).
	BatchSize int
	// ExtraPollers receive, besides Pollers, only while Burst reports true
	// (checked before each receive, and every 20ms while false): more
	// receive parallelism while messages come in bulk (a worker holding a
	// backlog it received ahead), no more long polls than Pollers when idle.
	// Ignored without Burst.
	ExtraPollers int
	Burst        func() bool
	// Admitter, if set, is asked before each received message's handler
	// starts whether it starts now or later (see Admitter). A message it
	// keeps costs no goroutine: it holds a slot (Concurrency counts it),
	// is kept invisible by one heartbeat loop for all kept messages
	// (batched when the Source is a BatchExtender), and goes back to the
	// queue at once when the runner drains. A message received more often
	// than MaxReceiveCount is not asked about.
	Admitter Admitter

	// VisibilityTimeout is how long a received message stays hidden; the
	// heartbeat extends it by this much. Set it to the source's
	// visibility timeout (sqssource.Config.VisibilityTimeout).
	VisibilityTimeout time.Duration
	// HeartbeatInterval is how often a running handler's message has its
	// visibility extended (default VisibilityTimeout/3; it must be shorter
	// than VisibilityTimeout). Negative disables heartbeats.
	HeartbeatInterval time.Duration
	// OnHeartbeat, if set, is called after each successful extension with
	// the handler's latest RecordHeartbeat progress (e.g. to send a Step
	// Functions task heartbeat). Errors are logged.
	OnHeartbeat func(ctx context.Context, m *Message, progress any) error

	// MaxReceiveCount is how many times a message is handled before the
	// runner dead-letters it (reason "max_receives"). A message received
	// more often than this (e.g. after crashes) is dead-lettered without
	// being handled. Negative disables the check (the queue's redrive
	// policy alone then applies). If the Source is a MaxReceiveCounter
	// (sqssource is), Run lowers it to one less than the queue's redrive
	// maxReceiveCount: the runner's dead-lettering, which records the
	// reason and runs the Finalizer, then always comes first, even for a
	// message whose last handler was killed.
	MaxReceiveCount int
	// Finalizer, if set, is called before every dead-lettering (see
	// Finalizer) so the work a message carried never stays "in progress".
	Finalizer Finalizer
	// FinalizeTimeout bounds each Finalizer call.
	FinalizeTimeout time.Duration
	// BackoffBase and BackoffMax shape the retry delay of transient
	// failures: full jitter over min(BackoffMax, BackoffBase·2^(n-1)) for
	// the n-th receive.
	BackoffBase time.Duration
	BackoffMax  time.Duration

	// DrainTimeout bounds how long in-flight handlers may run after the
	// context given to Run is cancelled; then their contexts are cancelled
	// and their messages made visible again at once.
	DrainTimeout time.Duration
	// SourceTimeout bounds each Ack, Nack, Extend and DeadLetter call.
	SourceTimeout time.Duration

	// Metrics receives the runner's metrics (see NewMetrics). If nil and
	// Registerer is set, New creates them on Registerer. Both nil: no
	// metrics are exported.
	Metrics    *Metrics
	Registerer prometheus.Registerer

	// Logger is the process logger (nop if nil). Outcomes are logged once
	// per message, at the boundary: failures at Warn/Error, successes at
	// Debug.
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "default"
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Pollers == 0 {
		c.Pollers = DefaultPollers
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.VisibilityTimeout == 0 {
		c.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = c.VisibilityTimeout / 3
	}
	if c.MaxReceiveCount == 0 {
		c.MaxReceiveCount = DefaultMaxReceiveCount
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.SourceTimeout == 0 {
		c.SourceTimeout = DefaultSourceTimeout
	}
	if c.FinalizeTimeout == 0 {
		c.FinalizeTimeout = DefaultFinalizeTimeout
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// ErrInvalidConfig is wrapped by New's validation errors.
var ErrInvalidConfig = errors.New("worker: invalid config")

func (c Config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Source != nil, "Source is required")
	check(c.Handler != nil, "Handler is required")
	check(c.Concurrency > 0, "Concurrency must be positive, got %d", c.Concurrency)
	check(c.Pollers > 0, "Pollers must be positive, got %d", c.Pollers)
	check(c.ExtraPollers >= 0, "ExtraPollers must not be negative, got %d", c.ExtraPollers)
	check(c.BatchSize >= 1 && c.BatchSize <= 10, "BatchSize must be 1..10, got %d", c.BatchSize)
	check(c.VisibilityTimeout >= time.Second && c.VisibilityTimeout <= MaxVisibility,
		"VisibilityTimeout must be 1s..12h, got %s", c.VisibilityTimeout)
	check(c.HeartbeatInterval < c.VisibilityTimeout,
		"HeartbeatInterval (%s) must be shorter than VisibilityTimeout (%s)", c.HeartbeatInterval, c.VisibilityTimeout)
	check(c.BackoffBase > 0 && c.BackoffMax >= c.BackoffBase && c.BackoffMax <= MaxVisibility,
		"need 0 < BackoffBase <= BackoffMax <= 12h, got %s, %s", c.BackoffBase, c.BackoffMax)
	check(c.DrainTimeout > 0, "DrainTimeout must be positive, got %s", c.DrainTimeout)
	check(c.SourceTimeout > 0, "SourceTimeout must be positive, got %s", c.SourceTimeout)
	check(c.FinalizeTimeout > 0, "FinalizeTimeout must be positive, got %s", c.FinalizeTimeout)
	check(c.Metrics == nil || c.Registerer == nil, "set Metrics or Registerer, not both")
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}
