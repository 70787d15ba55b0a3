package breaker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// ReleaseDB is what the Releaser needs of the database (*tenantdb.DB).
type ReleaseDB interface {
	Gateway
	BreakersDue(ctx context.Context, lease time.Duration, owner string) ([]tenantdb.DueTenant, error)
	ParkedPeek(ctx context.Context, tenant uuid.UUID, limit int) ([]tenantdb.ParkedMessage, error)
	ParkedRefuse(ctx context.Context, tenant uuid.UUID, seq int64, reason string) (bool, error)
	RecordSecurityEvent(ctx context.Context, ev tenantdb.SecurityEvent) error
}

// Gate establishes an event's tenant (*binding.Resolver).
type Gate interface {
	Resolve(ctx context.Context, ev event.Event, messageID string) (binding.Bound, error)
}

// Sender puts a message back into the worker's queue.
type Sender interface {
	Send(ctx context.Context, body string, attrs map[string]string) error
}

// Reason codes of parked messages the releaser refuses (kept, marked,
// never released).
const (
	// ReasonParkedTenantMismatch: the message verifies as another tenant
	// than the one it is filed under (a security event is recorded).
	ReasonParkedTenantMismatch = "parked_tenant_mismatch"
	// ReasonParkedUnreadable: the parked bytes no longer decode to an event
	// whose tenant can be established.
	ReasonParkedUnreadable = "parked_unreadable"
	// ReasonParkedObjectGone: the object an upload event names is gone
	// (its removal event, parked after it, cleans up).
	ReasonParkedObjectGone = "parked_object_gone"
)

// maxAttributes is the most message attributes SQS accepts.
const maxAttributes = 10

// releaseBatch is how many parked rows one peek reads.
const releaseBatch = 10

// maxFeedPerPass bounds what one pass puts back of a tenant whose
// readiness the worker reports (SetReady): the messages it sends count as
// waiting only once they are received again.
const maxFeedPerPass = 2 * releaseBatch

// Releaser puts parked messages of tenants whose breakers closed (or are
// half-open, for their one trial) back into the queue, oldest first, at a
// bounded rate, re-verifying each through the gate first. Run one per
// worker; a lease in the database gives each tenant one releaser at a time.
type Releaser struct {
	b       *Breaker
	db      ReleaseDB
	gate    Gate
	send    Sender
	limiter *rate.Limiter
	log     *zap.Logger
	owner   string // this releaser's lease id
	ready   func(tenant uuid.UUID) bool
}

// NewReleaser returns a Releaser for b's breakers.
func NewReleaser(b *Breaker, db ReleaseDB, gate Gate, send Sender) (*Releaser, error) {
	if b == nil || db == nil || gate == nil || send == nil {
		return nil, errors.New("breaker: releaser needs a breaker, a database, a gate and a sender")
	}
	return &Releaser{b: b, db: db, gate: gate, send: send, owner: strings.ReplaceAll(uuid.NewString(), "-", ""),
		limiter: rate.NewLimiter(rate.Limit(b.cfg.ReleaseRate), 1), log: b.log}, nil
}

// SetReady makes the releaser put a tenant's messages back only while
// ready(tenant) holds (the worker's dispatcher: the tenant has no backlog
// of its own waiting), so deferred work is fed back at the pace the
// tenant's share allows. Call it before Run.
func (r *Releaser) SetReady(ready func(tenant uuid.UUID) bool) { r.ready = ready }

// Run releases every PollInterval until ctx ends. Failures are logged and
// retried at the next poll.
func (r *Releaser) Run(ctx context.Context) error {
	t := time.NewTicker(r.b.cfg.PollInterval)
	defer t.Stop()
	for {
		if _, err := r.ReleaseOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("releasing parked messages failed; retrying at the next poll", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ReleaseOnce makes one pass over the tenants due for release and returns
// how many messages it put back into the queue.
func (r *Releaser) ReleaseOnce(ctx context.Context) (int, error) {
	due, err := r.db.BreakersDue(ctx, r.b.cfg.Lease, r.owner)
	if err != nil {
		return 0, err
	}
	var (
		total int
		errs  []error
	)
	for _, d := range due {
		n, err := r.releaseTenant(ctx, d)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", d.Tenant, err))
		}
	}
	return total, errors.Join(errs...)
}

// releaseTenant releases d's parked messages while its lease lasts: all of
// them for a closed breaker, the oldest one (as the trial) for a half-open
// one.
func (r *Releaser) releaseTenant(ctx context.Context, d tenantdb.DueTenant) (int, error) {
	deadline := time.Now().Add(r.b.cfg.Lease / 2)
	n := 0
	for time.Now().Before(deadline) {
		limit := releaseBatch
		if d.State == string(HalfOpen) {
			limit = 1
		}
		rows, err := r.db.ParkedPeek(ctx, d.Tenant, limit)
		if err != nil || len(rows) == 0 {
			return n, err
		}
		for _, p := range rows {
			if r.ready != nil && (!r.ready(d.Tenant) || n >= maxFeedPerPass) {
				// Backlogged here, or fed enough for one pass: the messages
				// just put back have not arrived yet. The next pass (its own
				// lease, renewed) goes on.
				return n, nil
			}
			if err := r.limiter.Wait(ctx); err != nil {
				return n, err
			}
			released, err := r.releaseOne(ctx, d, p)
			if err != nil || !released {
				return n, err
			}
			n++
			if d.State == string(HalfOpen) {
				return n, nil // one trial at a time
			}
		}
	}
	return n, nil
}

// releaseOne re-verifies p through the gate, then (still allowed by the
// breaker) sends it back into the queue and deletes its row under the
// verified scope. released is false when the breaker no longer allows a
// release or the gate cannot judge now: the tenant waits for a later pass.
func (r *Releaser) releaseOne(ctx context.Context, d tenantdb.DueTenant, p tenantdb.ParkedMessage) (released bool, err error) {
	scope, refused, err := r.verify(ctx, p)
	if err != nil {
		return false, err
	}
	if refused != "" {
		if _, err := r.db.ParkedRefuse(ctx, p.Tenant, p.Seq, refused); err != nil {
			return false, err
		}
		r.b.m.Refused.WithLabelValues(p.Tenant.String()).Inc()
		r.log.Warn("parked message refused at release: kept, never released", zap.String("tenant_id", p.Tenant.String()),
			zap.String("message_id", p.MessageID), zap.Int64("parked_seq", p.Seq), zap.String("reason", refused))
		return true, nil // the next row may go
	}
	scope = scope.WithActor(Actor)
	seq := seqString(p.Seq)
	// The breaker must still allow it; a half-open breaker's trial is
	// claimed for this row before it is sent.
	allowed := false
	err = r.b.db.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		b, ok, now, err := load(ctx, tx, true)
		if err != nil || !ok {
			return err
		}
		switch b.State {
		case Closed:
			allowed = true
		case HalfOpen:
			if b.TrialJob == "" || b.TrialUntil == nil || !now.Before(*b.TrialUntil) {
				until := now.Add(r.b.cfg.TrialTimeout)
				b.TrialJob, b.TrialUntil = releaseTrial(seq), &until
				allowed = true
				return save(ctx, tx, b, false, "")
			}
		}
		return nil
	})
	if err != nil || !allowed {
		return false, err
	}
	attrs := stringAttributes(p.Attributes)
	if len(attrs) < maxAttributes {
		attrs[AttrReleasedSeq] = seq
	}
	if err := r.send.Send(ctx, p.Body, attrs); err != nil {
		return false, fmt.Errorf("breaker: release: send: %w", err)
	}
	// Sent: delete the row. A kill before this commit sends it again at the
	// next release; the handler's idempotent writes make that one effect.
	var deleted int64
	err = r.b.db.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		var err error
		if deleted, err = tx.Exec(ctx, `DELETE FROM parked_messages WHERE tenant_id = tenantry_current_tenant() AND seq = $1`, p.Seq); err != nil || deleted == 0 {
			return err
		}
		if p.Reason == ReasonDeferred {
			return nil // fair-dispatch overflow, not a breaker transition
		}
		_, err = tx.Audit(ctx, "breaker."+string(Release), "parked:"+seq, "", "message "+clip(p.MessageID, 200)+" back into the queue")
		return err
	})
	if err != nil {
		return false, fmt.Errorf("breaker: release: %w", err)
	}
	if deleted > 0 && p.Reason == ReasonDeferred {
		r.b.m.Released.WithLabelValues(p.Tenant.String(), kindDeferred).Inc()
	} else if deleted > 0 {
		r.b.m.Released.WithLabelValues(p.Tenant.String(), kindBreaker).Inc()
		r.log.Info("parked message released", zap.String("tenant_id", p.Tenant.String()), zap.String("job_id", scope.JobID()),
			zap.String("message_id", p.MessageID), zap.Int64("parked_seq", p.Seq), zap.String("breaker", d.State))
	}
	return true, nil
}

// verify establishes the tenant of a parked message through the gate. It
// returns the verified scope, or a refusal reason, or an error when the
// gate cannot judge now (S3 or keys unreachable).
func (r *Releaser) verify(ctx context.Context, p tenantdb.ParkedMessage) (tenantdb.Scope, string, error) {
	evs, err := event.Decode([]byte(p.Body), p.Attributes)
	if err != nil {
		return tenantdb.Scope{}, ReasonParkedUnreadable, nil
	}
	var scope tenantdb.Scope
	for _, ev := range evs {
		if ev.Kind == event.KindIgnore {
			continue
		}
		b, err := r.gate.Resolve(ctx, ev, p.MessageID)
		var be *binding.Error
		switch {
		case err == nil:
		case !errors.As(err, &be):
			return tenantdb.Scope{}, "", err
		case be.Kind == binding.KindIgnored:
			continue
		case be.Kind == binding.KindStale:
			return tenantdb.Scope{}, ReasonParkedObjectGone, nil
		case be.Kind == binding.KindUnavailable:
			return tenantdb.Scope{}, "", fmt.Errorf("breaker: cannot verify a parked message now: %w", err)
		default:
			return tenantdb.Scope{}, be.Reason(), nil
		}
		if err != nil {
			continue
		}
		got := b.Verified.Scope
		if got.TenantID() != p.Tenant {
			if err := r.db.RecordSecurityEvent(ctx, tenantdb.SecurityEvent{Reason: ReasonParkedTenantMismatch,
				Source: "breaker-release", MessageID: p.MessageID, ClaimedTenant: p.Tenant.String(),
				Detail: "parked message verifies as another tenant"}); err != nil {
				return tenantdb.Scope{}, "", err
			}
			return tenantdb.Scope{}, ReasonParkedTenantMismatch, nil
		}
		if scope.IsZero() {
			scope = got
		}
	}
	if scope.IsZero() {
		return tenantdb.Scope{}, ReasonParkedUnreadable, nil
	}
	return scope, "", nil
}
