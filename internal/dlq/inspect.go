package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Defaults of InspectConfig and ReplayConfig.
const (
	DefaultInspectLimit      = 1000
	DefaultInspectVisibility = 20 * time.Second
	DefaultWaitTime          = time.Second
	DefaultStaleRounds       = 2
	maxLimit                 = 1_000_000
)

// InspectConfig configures an Inspector.
type InspectConfig struct {
	// QueueURL is the dead-letter queue. Required.
	QueueURL string
	// Filter selects the messages reported (all by default).
	Filter Filter
	// Limit is the most messages reported (default 1000).
	Limit int
	// VisibilityTimeout hides a received message until the walk ends (then
	// it is released), or for this long if the walk takes longer or the
	// process dies. Default 20s, 1s..12h.
	VisibilityTimeout time.Duration
	// WaitTime is each receive's long poll (default 1s, 0..20s). Long
	// polling asks every SQS server, so an empty answer means the queue has
	// nothing visible.
	WaitTime time.Duration
	// StaleRounds ends the walk after this many receives in a row brought
	// only messages already seen, once as many messages were seen as the
	// queue's approximate count (ten times as many end it regardless).
	// Default 2.
	StaleRounds int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnMessage, if set, is called for each reported message as it is read
	// (progress output). It runs on the Inspect goroutine.
	OnMessage func(Message)
}

func (c InspectConfig) withDefaults() InspectConfig {
	if c.Limit == 0 {
		c.Limit = DefaultInspectLimit
	}
	if c.VisibilityTimeout == 0 {
		c.VisibilityTimeout = DefaultInspectVisibility
	}
	if c.WaitTime == 0 {
		c.WaitTime = DefaultWaitTime
	}
	if c.StaleRounds == 0 {
		c.StaleRounds = DefaultStaleRounds
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c InspectConfig) validate() error {
	var errs []error
	if c.QueueURL == "" {
		errs = append(errs, errors.New("QueueURL is required"))
	}
	if c.Limit < 1 || c.Limit > maxLimit {
		errs = append(errs, fmt.Errorf("Limit must be 1..%d", maxLimit))
	}
	errs = append(errs, validateScan(c.VisibilityTimeout, c.WaitTime, c.StaleRounds))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return c.Filter.Validate()
}

func validateScan(visibility, wait time.Duration, stale int) error {
	var errs []error
	if visibility < time.Second || visibility > 12*time.Hour {
		errs = append(errs, errors.New("VisibilityTimeout must be 1s..12h"))
	}
	if wait < 0 || wait > 20*time.Second {
		errs = append(errs, errors.New("WaitTime must be 0..20s"))
	}
	if stale < 1 || stale > 100 {
		errs = append(errs, errors.New("StaleRounds must be 1..100"))
	}
	return errors.Join(errs...)
}

// Inspector lists a DLQ without consuming it. It is not safe for concurrent
// Inspect calls.
type Inspector struct {
	cfg      InspectConfig
	api      API
	resolver Resolver
	log      *zap.Logger
}

// NewInspector checks cfg. resolver establishes tenants (an
// *EnvelopeResolver); logger may be nil.
func NewInspector(cfg InspectConfig, api API, resolver Resolver, logger *zap.Logger) (*Inspector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if api == nil || resolver == nil {
		return nil, fmt.Errorf("%w: an SQS client and a Resolver are required", ErrInvalidConfig)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Inspector{cfg: cfg, api: api, resolver: resolver, log: logger.With(zap.String("dlq", QueueName(cfg.QueueURL)))}, nil
}

// Report is the result of an inspection.
type Report struct {
	// Queue is the DLQ's name.
	Queue string
	// ApproximateCount is the DLQ's approximate message count (visible and
	// in flight) before the walk; -1 if unknown.
	ApproximateCount int
	// Scanned is how many distinct messages were read.
	Scanned int
	// Messages are the messages the filter selected, in the order read.
	Messages []Message
	// Groups count Messages by tenant ("unverified" for messages whose
	// envelope did not verify) and dead-letter reason, largest first.
	Groups []Group
	// Truncated is true when Limit stopped the walk.
	Truncated bool
	// Receives is how many ReceiveMessage calls the walk made.
	Receives int
	// ReleaseFailures counts messages that could not be made visible again
	// at once (they come back when their visibility timeout ends).
	ReleaseFailures int
}

// Group is a count of messages with one tenant and reason.
type Group struct {
	Tenant string `json:"tenant"`
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// Inspect walks the DLQ once. Every message it receives is made visible
// again when the walk ends, so the queue keeps its messages (their receive counts go
// up by one). On error or cancellation it returns what it read so far along
// with the error.
func (in *Inspector) Inspect(ctx context.Context) (*Report, error) {
	rep := &Report{Queue: QueueName(in.cfg.QueueURL)}
	n, _, err := approximateCount(ctx, in.api, in.cfg.QueueURL)
	if err != nil {
		return rep, err
	}
	rep.ApproximateCount = n
	sc := newScanner(in.api, in.cfg.QueueURL, in.cfg.VisibilityTimeout, in.cfg.WaitTime, in.cfg.StaleRounds, n, in.cfg.Now, in.log)
	defer func() {
		sc.finish(ctx)
		rep.Receives, rep.ReleaseFailures = sc.receives, sc.releaseFailures
	}()
	for done := false; !done; {
		var fresh []*delivery
		fresh, done, err = sc.next(ctx, 10)
		if err != nil {
			break
		}
		sc.hold(fresh...)
		for _, d := range fresh {
			rep.Scanned++
			vs, verr := in.resolver.Resolve(ctx, d.msg.ID, d.body, d.str)
			if verr != nil && ctx.Err() != nil {
				err = ctx.Err()
				break
			}
			d.setVerified(vs, verr)
			if !in.cfg.Filter.Match(d.msg) {
				continue
			}
			rep.Messages = append(rep.Messages, d.msg)
			if in.cfg.OnMessage != nil {
				in.cfg.OnMessage(d.msg)
			}
			if len(rep.Messages) >= in.cfg.Limit {
				rep.Truncated, done = true, true
				break
			}
		}
		if err != nil {
			break
		}
	}
	rep.Groups = GroupMessages(rep.Messages)
	return rep, err
}

// GroupMessages counts msgs by tenant label and reason, largest group first
// (then by tenant and reason).
func GroupMessages(msgs []Message) []Group {
	idx := map[[2]string]int{}
	var out []Group
	for _, m := range msgs {
		k := [2]string{m.TenantLabel(), m.Reason}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Group{Tenant: k[0], Reason: k[1]})
		}
		out[i].Count++
	}
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}
