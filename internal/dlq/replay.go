package dlq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/outcome"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/worker"
)

// AuditAction is the audit action of a replay, written in the tenant's
// chain.
const AuditAction = "dlq.replayed"

// SecurityEventSource is the source of the security events a replay records
// for messages whose envelope is rejected.
const SecurityEventSource = "dlq-replay"

// Defaults of ReplayConfig.
const (
	DefaultRate        = 10.0
	DefaultMaxReplays  = 3
	DefaultMinValidity = time.Minute
	maxReplayReason    = 256
)

// Refusal codes of OutcomeRefused.
const (
	// RefusedMaxReplays: the message was replayed MaxReplays times already
	// (a replay loop); fix the cause, then raise --max-replays on purpose.
	RefusedMaxReplays = "max_replays"
	// RefusedExpiresSoon: the envelope verifies but expires within
	// MinValidity, before the worker could process the replay.
	RefusedExpiresSoon = "expires_soon"
	// RefusedAttributeLimit: the copy would exceed SQS's 10 message
	// attributes with the replay count and history added.
	RefusedAttributeLimit = "attribute_limit"
)

// Failure codes of OutcomeFailed (besides a temporary unverified reason such
// as keys_unavailable).
const (
	// FailedAudit: the audit row could not be written; nothing was sent.
	FailedAudit = "audit_failed"
	// FailedSend: the send failed; the audit row was rolled back.
	FailedSend = "send_failed"
	// FailedAuditCommit: sent, but the audit row did not commit; the DLQ
	// copy is kept (Duplicated) so a rerun replays and audits it.
	FailedAuditCommit = "audit_commit_failed"
	// FailedDelete: replayed and audited, but the DLQ copy could not be
	// deleted (Outcome is OutcomeReplayed, Duplicated is set).
	FailedDelete = "dlq_delete_failed"
	// FailedInterrupted: the context ended before the message was sent.
	FailedInterrupted = "interrupted"
)

// Gateway is the tenant gateway a Replayer audits through (*tenantdb.DB).
type Gateway interface {
	WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(ctx context.Context, tx tenantdb.Tx) error) error
	RecordSecurityEvent(ctx context.Context, ev tenantdb.SecurityEvent) error
}

var _ Gateway = (*tenantdb.DB)(nil)

// ReplayConfig configures a Replayer.
type ReplayConfig struct {
	// DLQURL is the dead-letter queue to replay from. Required.
	DLQURL string
	// TargetURL is where replayed messages go. Default: the DLQ's source
	// queue (the one queue whose redrive policy names the DLQ).
	TargetURL string
	// Filter selects the messages to replay (all by default).
	Filter Filter
	// Reason says why the operator replays. Required (it is audited);
	// at most 256 bytes.
	Reason string
	// Actor is the operator; it is the actor of the audit rows. Required.
	Actor string
	// DryRun reads and verifies, but sends, deletes and writes nothing.
	DryRun bool
	// Rate bounds sends per second (default 10).
	Rate float64
	// MaxReplays refuses messages already replayed this many times
	// (default 3).
	MaxReplays int
	// Limit is the most messages replayed (0: no limit).
	Limit int
	// MinValidity refuses envelopes that expire sooner than this after the
	// replay (default 1m): the worker must still accept them.
	MinValidity time.Duration
	// VisibilityTimeout hides a selected message while it is replayed; a
	// message that stays in the DLQ is released when the walk ends (or comes
	// back by itself after this long). Default 30s plus the time the rate
	// needs for a batch of 10.
	VisibilityTimeout time.Duration
	// WaitTime and StaleRounds: as in InspectConfig.
	WaitTime    time.Duration
	StaleRounds int
	// Now is the clock (default time.Now); the rate limiter runs on it.
	Now func() time.Time
	// OnStart, if set, is called once the target is known, with the stats
	// so far (Target, Approximate: a progress total).
	OnStart func(Stats)
	// OnResult, if set, is called for every message read, selected or not
	// (progress output). It runs on the Replay goroutine.
	OnResult func(Result)

	// sleep waits for d or ctx (tests replace it along with Now).
	sleep func(ctx context.Context, d time.Duration) error
}

func (c ReplayConfig) withDefaults() ReplayConfig {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.MaxReplays == 0 {
		c.MaxReplays = DefaultMaxReplays
	}
	if c.MinValidity == 0 {
		c.MinValidity = DefaultMinValidity
	}
	if c.VisibilityTimeout == 0 && c.Rate > 0 {
		c.VisibilityTimeout = 30*time.Second + time.Duration(float64(10*time.Second)/c.Rate)
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
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	return c
}

func (c ReplayConfig) validate() error {
	var errs []error
	switch {
	case c.DLQURL == "":
		errs = append(errs, errors.New("DLQURL is required"))
	case c.TargetURL == c.DLQURL:
		errs = append(errs, errors.New("TargetURL must differ from DLQURL"))
	}
	if c.Reason == "" || len(c.Reason) > maxReplayReason {
		errs = append(errs, fmt.Errorf("Reason is required (at most %d bytes): say why you replay", maxReplayReason))
	}
	if c.Actor == "" {
		errs = append(errs, errors.New("Actor is required"))
	}
	if c.Rate <= 0 || c.Rate > 3000 {
		errs = append(errs, errors.New("Rate must be within (0, 3000] messages per second"))
	}
	if c.MaxReplays < 1 || c.MaxReplays > 100 {
		errs = append(errs, errors.New("MaxReplays must be 1..100"))
	}
	if c.Limit < 0 {
		errs = append(errs, errors.New("Limit must not be negative"))
	}
	if c.MinValidity < 0 {
		errs = append(errs, errors.New("MinValidity must not be negative"))
	}
	errs = append(errs, validateScan(c.VisibilityTimeout, c.WaitTime, c.StaleRounds))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return c.Filter.Validate()
}

// Outcome is what a replay did with one message.
type Outcome string

// Outcomes.
const (
	// OutcomeSkipped: the filter did not select the message (left alone).
	OutcomeSkipped Outcome = "skipped"
	// OutcomeReplayed: sent to the target, audited, deleted from the DLQ.
	OutcomeReplayed Outcome = "replayed"
	// OutcomeWouldReplay: a dry run would have replayed it.
	OutcomeWouldReplay Outcome = "would_replay"
	// OutcomeRejected: its envelope did not verify (Code says why); it
	// stays in the DLQ. An envelope must be re-issued by the backend.
	OutcomeRejected Outcome = "rejected"
	// OutcomeRefused: it verifies but a safety rule holds it back (Code:
	// max_replays, expires_soon, attribute_limit); it stays in the DLQ.
	OutcomeRefused Outcome = "refused"
	// OutcomeFailed: an error stopped the replay of this message (Err);
	// it stays in the DLQ (if Sent, a copy also reached the target).
	OutcomeFailed Outcome = "failed"
)

// Result is the outcome for one message.
type Result struct {
	Message Message `json:"message"`
	Outcome Outcome `json:"outcome"`
	// Code is the reason code of a rejected, refused or failed message.
	Code string `json:"code,omitempty"`
	// NewMessageID is the id of the copy in the target queue.
	NewMessageID string `json:"new_message_id,omitempty"`
	// Duplicated is true when the message now exists in both queues: it was
	// sent but the DLQ copy could not be deleted (or the audit could not be
	// committed). The worker's idempotency absorbs the duplicate.
	Duplicated bool `json:"duplicated,omitempty"`
	// AuditSeq is the sequence number of the audit row in the tenant's chain.
	AuditSeq int64 `json:"audit_seq,omitempty"`
	// SentAt is when the copy was sent (on the configured clock).
	SentAt time.Time `json:"sent_at,omitzero"`
	// Err is the error of a failed message (or of the DLQ delete).
	Err error `json:"-"`
}

// Stats sum up a replay.
type Stats struct {
	// Target is the queue replayed to.
	Target string
	// Approximate is the DLQ's approximate message count before the replay
	// (-1 if unknown): the progress total.
	Approximate               int
	Scanned, Matched          int
	Replayed, WouldReplay     int
	Rejected, Refused, Failed int
	Duplicated                int
	Receives, ReleaseFailures int
	// FirstSend and LastSend bound the sends: SendRate is measured from them.
	FirstSend, LastSend time.Time
}

// Err is an error when messages failed or were duplicated (a replay that
// ran to its end but did not move everything it selected), else nil.
func (s Stats) Err() error {
	if s.Failed > 0 || s.Duplicated > 0 {
		return fmt.Errorf("%d message(s) failed, %d duplicated: see above (nothing was lost)", s.Failed, s.Duplicated)
	}
	return nil
}

// SendRate is the measured send rate in messages per second (sends after
// the first, over the time since the first); 0 with fewer than two sends.
func (s Stats) SendRate() float64 {
	d := s.LastSend.Sub(s.FirstSend)
	if s.Replayed < 2 || d <= 0 {
		return 0
	}
	return float64(s.Replayed-1) / d.Seconds()
}

// Replayer moves dead-lettered messages back to their queue. It is not safe
// for concurrent Replay calls.
type Replayer struct {
	cfg      ReplayConfig
	api      ReplayAPI
	resolver Resolver
	gw       Gateway
	log      *zap.Logger
}

// NewReplayer checks cfg. gw audits replays (a *tenantdb.DB); it may be nil
// only for a dry run. logger may be nil.
func NewReplayer(cfg ReplayConfig, api ReplayAPI, resolver Resolver, gw Gateway, logger *zap.Logger) (*Replayer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if api == nil || resolver == nil {
		return nil, fmt.Errorf("%w: an SQS client and a Resolver are required", ErrInvalidConfig)
	}
	if gw == nil && !cfg.DryRun {
		return nil, fmt.Errorf("%w: a tenant gateway is required to audit replays", ErrInvalidConfig)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg.Actor = worker.TruncateText(cfg.Actor, 256)
	cfg.Reason = worker.TruncateText(cfg.Reason, maxReplayReason)
	return &Replayer{cfg: cfg, api: api, resolver: resolver, gw: gw, log: logger.With(zap.String("dlq", QueueName(cfg.DLQURL)))}, nil
}

// Replay walks the DLQ once and replays the selected messages. It returns
// the stats so far with ctx's error when interrupted: every message is then
// either still in the DLQ or replayed (possibly both, never neither).
func (r *Replayer) Replay(ctx context.Context) (st Stats, err error) {
	target := r.cfg.TargetURL
	if target == "" {
		srcs, err := SourceQueues(ctx, r.api, r.cfg.DLQURL)
		if err != nil {
			return st, err
		}
		switch len(srcs) {
		case 0:
			return st, fmt.Errorf("%w: %s (give the target queue URL)", ErrNoSourceQueue, QueueName(r.cfg.DLQURL))
		case 1:
			target = srcs[0]
		default:
			return st, fmt.Errorf("%w: %d queues (give the target queue URL)", ErrAmbiguousSourceQueue, len(srcs))
		}
	}
	if target == r.cfg.DLQURL {
		return st, fmt.Errorf("%w: the target is the DLQ itself", ErrInvalidConfig)
	}
	st.Target = target
	n, _, err := approximateCount(ctx, r.api, r.cfg.DLQURL)
	if err != nil {
		return st, err
	}
	st.Approximate = n
	if r.cfg.OnStart != nil {
		r.cfg.OnStart(st)
	}

	lim := rate.NewLimiter(rate.Limit(r.cfg.Rate), 1)
	sc := newScanner(r.api, r.cfg.DLQURL, r.cfg.VisibilityTimeout, r.cfg.WaitTime, r.cfg.StaleRounds, n, r.cfg.Now, r.log)
	defer func() {
		sc.finish(ctx)
		st.Receives, st.ReleaseFailures = sc.receives, sc.releaseFailures
	}()
	for done := false; !done; {
		var fresh []*delivery
		fresh, done, err = sc.next(ctx, 10)
		if err != nil {
			return st, err
		}
		for i, d := range fresh {
			if err := ctx.Err(); err != nil {
				sc.hold(fresh[i:]...)
				return st, err
			}
			if r.cfg.Limit > 0 && st.Replayed+st.WouldReplay >= r.cfg.Limit {
				sc.hold(fresh[i:]...)
				return st, nil
			}
			res, consumed := r.one(ctx, d, target, lim)
			if !consumed {
				sc.hold(d)
			}
			st.count(res)
			if r.cfg.OnResult != nil {
				r.cfg.OnResult(res)
			}
		}
	}
	return st, nil
}

func (st *Stats) count(res Result) {
	st.Scanned++
	if res.Outcome != OutcomeSkipped {
		st.Matched++
	}
	switch res.Outcome {
	case OutcomeReplayed:
		st.Replayed++
		at := res.SentAt
		if st.FirstSend.IsZero() {
			st.FirstSend = at
		}
		st.LastSend = at
	case OutcomeWouldReplay:
		st.WouldReplay++
	case OutcomeRejected:
		st.Rejected++
	case OutcomeRefused:
		st.Refused++
	case OutcomeFailed:
		st.Failed++
	}
	if res.Duplicated {
		st.Duplicated++
	}
}

// one decides and, if selected, replays one delivery. consumed is true when
// the DLQ copy was deleted; otherwise the caller holds it until the walk ends.
func (r *Replayer) one(ctx context.Context, d *delivery, target string, lim *rate.Limiter) (Result, bool) {
	f := r.cfg.Filter
	// Cheap checks first: do not verify (HeadObject) what the filter drops
	// anyway.
	if !f.matchUnverified(d.msg) {
		return Result{Message: d.msg, Outcome: OutcomeSkipped}, false
	}
	vs, verr := r.resolver.Resolve(ctx, d.msg.ID, d.body, d.str)
	if verr != nil && ctx.Err() != nil {
		return Result{Message: d.msg, Outcome: OutcomeFailed, Code: FailedInterrupted, Err: ctx.Err()}, false
	}
	d.setVerified(vs, verr)
	if !f.Match(d.msg) {
		return Result{Message: d.msg, Outcome: OutcomeSkipped}, false
	}
	if !d.msg.Verified {
		if c := outcome.Classify(verr).Class; c == outcome.Transient || c == outcome.Throttled {
			return Result{Message: d.msg, Outcome: OutcomeFailed, Code: d.msg.UnverifiedReason, Err: verr}, false
		}
		r.securityEvent(ctx, d)
		return Result{Message: d.msg, Outcome: OutcomeRejected, Code: d.msg.UnverifiedReason}, false
	}
	now := r.cfg.Now()
	if d.msg.ReplayCount >= r.cfg.MaxReplays {
		return Result{Message: d.msg, Outcome: OutcomeRefused, Code: RefusedMaxReplays}, false
	}
	if !d.msg.Expires.IsZero() && d.msg.Expires.Sub(now) < r.cfg.MinValidity {
		return Result{Message: d.msg, Outcome: OutcomeRefused, Code: RefusedExpiresSoon}, false
	}
	attrs, ok := replayAttributes(d, now)
	if !ok {
		return Result{Message: d.msg, Outcome: OutcomeRefused, Code: RefusedAttributeLimit}, false
	}
	if r.cfg.DryRun {
		return Result{Message: d.msg, Outcome: OutcomeWouldReplay}, false
	}
	if err := r.wait(ctx, lim); err != nil {
		return Result{Message: d.msg, Outcome: OutcomeFailed, Code: FailedInterrupted, Err: err}, false
	}
	return r.send(ctx, d, target, attrs)
}

// matchUnverified applies the parts of the filter that need no tenant.
func (f Filter) matchUnverified(m Message) bool {
	if !f.needsTenant() {
		return f.Match(m)
	}
	g := f
	g.Tenants = nil
	return g.Match(m)
}

// wait paces sends with the limiter on the configured clock.
func (r *Replayer) wait(ctx context.Context, lim *rate.Limiter) error {
	now := r.cfg.Now()
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return errors.New("dlq: rate limiter refused a send")
	}
	if err := r.cfg.sleep(ctx, res.DelayFrom(now)); err != nil {
		res.CancelAt(r.cfg.Now())
		return err
	}
	return nil
}

// send audits and sends in one tenant transaction (the audit row commits only
// if the send succeeded), then deletes the DLQ copy.
func (r *Replayer) send(ctx context.Context, d *delivery, target string, attrs map[string]types.MessageAttributeValue) (Result, bool) {
	res := Result{Message: d.msg}
	in := &sqs.SendMessageInput{
		QueueUrl:          aws.String(target),
		MessageBody:       aws.String(string(d.body)),
		MessageAttributes: attrs,
	}
	count := d.msg.ReplayCount + 1
	if isFIFO(target) {
		group := d.groupID
		if group == "" {
			group = "tenantry-replay"
		}
		in.MessageGroupId = aws.String(group)
		dedup := worker.SanitizeReason(d.msg.ID) + "-replay-" + strconv.Itoa(count)
		if len(dedup) > 128 {
			dedup = dedup[len(dedup)-128:]
		}
		in.MessageDeduplicationId = aws.String(dedup)
	}
	detail := r.auditDetail(d, target, count)
	sum := sha256.Sum256(d.body)
	payloadHash := "sha256:" + hex.EncodeToString(sum[:])
	scope := d.verified[0].Scope.WithActor(r.cfg.Actor)
	audited, sent := false, false
	err := r.gw.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		for _, v := range d.verified {
			seq, err := tx.Audit(ctx, AuditAction, v.Claims.Resource, payloadHash, detail)
			if err != nil {
				return err
			}
			if res.AuditSeq == 0 {
				res.AuditSeq = seq
			}
		}
		audited = true
		out, err := r.api.SendMessage(ctx, in)
		if err != nil {
			return fmt.Errorf("dlq: send to %s: %w", QueueName(target), err)
		}
		sent = true
		res.NewMessageID = aws.ToString(out.MessageId)
		res.SentAt = r.cfg.Now()
		return nil
	})
	if err != nil {
		res.Outcome, res.Err = OutcomeFailed, err
		res.AuditSeq = 0
		switch {
		case sent:
			// The copy is in the target queue but the audit row did not
			// commit: keep the DLQ copy so a rerun replays (and audits) it.
			res.Code, res.Duplicated = FailedAuditCommit, true
			r.log.Error("replayed message sent but its audit did not commit; the DLQ copy is kept",
				zap.String("message_id", d.msg.ID), zap.Error(err))
		case ctx.Err() != nil:
			res.Code, res.Err = FailedInterrupted, ctx.Err()
		case audited:
			res.Code = FailedSend
		default:
			res.Code = FailedAudit
		}
		return res, false
	}
	res.Outcome = OutcomeReplayed
	// The copy is sent and audited: finish the delete even if the replay
	// is being interrupted, so an interrupt does not leave a duplicate.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if _, err := r.api.DeleteMessage(dctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.cfg.DLQURL), ReceiptHandle: aws.String(d.handle)}); err != nil {
		res.Duplicated, res.Code = true, FailedDelete
		res.Err = fmt.Errorf("dlq: replayed, but deleting the DLQ copy failed (it is made visible again): %w", err)
		r.log.Warn("replayed message stays in the DLQ as well", zap.String("message_id", d.msg.ID), zap.Error(err))
		return res, false
	}
	return res, true
}

func (r *Replayer) auditDetail(d *delivery, target string, count int) string {
	b, _ := json.Marshal(struct {
		Reason       string `json:"reason"`
		MessageID    string `json:"message_id"`
		OriginalID   string `json:"original_message_id,omitempty"`
		DeadLetter   string `json:"dead_letter_reason"`
		Stage        string `json:"stage,omitempty"`
		Attempts     int    `json:"attempts,omitempty"`
		ReplayCount  int    `json:"replay_count"`
		From         string `json:"from"`
		To           string `json:"to"`
		EnvelopeID   string `json:"envelope_id,omitempty"`
		EnvelopeSubj string `json:"envelope_subject,omitempty"`
	}{
		Reason: r.cfg.Reason, MessageID: d.msg.ID, OriginalID: d.msg.OriginalID, DeadLetter: d.msg.Reason,
		Stage: d.msg.Stage, Attempts: d.msg.Attempts, ReplayCount: count,
		From: QueueName(r.cfg.DLQURL), To: QueueName(target),
		EnvelopeID: d.verified[0].Claims.ID, EnvelopeSubj: d.verified[0].Claims.Subject,
	})
	return string(b)
}

// securityEvent records a rejected envelope met by a (real) replay: an
// envelope that does not verify, a missing or malformed one, or a message
// mixing tenants. Messages that are merely moot (object gone, S3 test event)
// are not security events.
func (r *Replayer) securityEvent(ctx context.Context, d *delivery) {
	if r.cfg.DryRun || r.gw == nil {
		return
	}
	switch reason := d.msg.UnverifiedReason; {
	case outcome.Classify(d.verr).Class == outcome.Rejected:
	case reason == binding.ReasonMissingEnvelope, reason == ReasonMixedTenants, reason == event.ReasonMalformedEnvelope:
	default:
		return
	}
	err := r.gw.RecordSecurityEvent(ctx, tenantdb.SecurityEvent{
		Reason: d.msg.UnverifiedReason, Source: SecurityEventSource, MessageID: d.msg.ID,
		Detail: "replay refused: the message's envelope did not verify",
	})
	if err != nil {
		r.log.Warn("could not record a security event", zap.String("message_id", d.msg.ID), zap.Error(err))
	}
}

// replayAttributes returns the copy's attributes: the original ones minus
// the dead-letter attributes, plus the incremented replay count and the
// history with this dead-lettering appended. ok is false when they would
// exceed SQS's attribute limit.
func replayAttributes(d *delivery, now time.Time) (map[string]types.MessageAttributeValue, bool) {
	out := make(map[string]types.MessageAttributeValue, len(d.attrs)+2)
	maps.Copy(out, d.attrs)
	for _, n := range deadLetterAttrs {
		delete(out, n)
	}
	delete(out, AttrHistory)
	delete(out, AttrReplayCount)
	if len(out)+2 > worker.MaxAttributes {
		return nil, false
	}
	h := append(slices.Clone(d.msg.History), HistoryEntry{
		Reason: d.msg.Reason, Stage: d.msg.Stage, Attempts: d.msg.Attempts,
		DeadLetteredAt: d.msg.DeadLetteredAt, ReplayedAt: now, MessageID: d.msg.ID,
	})
	out[AttrHistory] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(FormatHistory(h))}
	out[AttrReplayCount] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(d.msg.ReplayCount + 1))}
	return out, true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
