package breaker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/worker"
)

// Gateway runs tenant-scoped transactions (*tenantdb.DB, or a test
// transaction's gateway).
type Gateway interface {
	WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(ctx context.Context, tx tenantdb.Tx) error) error
}

// Actor is the audit actor of automatic transitions.
const Actor = "tenantry:breaker"

// AttrReleasedSeq is the message attribute the Releaser adds to a message it
// puts back into the queue: the seq of the parked row. It grants nothing (a
// released message is verified like any other); it only lets the releaser's
// trial message claim a half-open breaker's trial.
const AttrReleasedSeq = "tenantry-released-seq"

// Breaker is the tenants' circuit breakers, on the database every worker
// shares. It is safe for concurrent use.
type Breaker struct {
	cfg Config
	db  Gateway
	m   *Metrics
	log *zap.Logger

	deferrer deferrer
}

// New validates cfg (after defaults) and returns a Breaker on db. m and
// logger may be nil.
func New(cfg Config, db Gateway, m *Metrics, logger *zap.Logger) (*Breaker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, errors.New("breaker: a database gateway is required")
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Breaker{cfg: cfg, db: db, m: m, log: logger}, nil
}

// Config is the breaker's effective configuration.
func (b *Breaker) Config() Config { return b.cfg }

// Admit decides, for one message the gate verified (scope), whether it runs
// now, runs as the half-open trial, or must be parked. m's id is the trial's
// job id.
func (b *Breaker) Admit(ctx context.Context, scope tenantdb.Scope, m *worker.Message) (Decision, error) {
	d, err := b.enter(ctx, scope, m, mode{}, nil)
	if err != nil {
		return Decision{}, fmt.Errorf("breaker: admit: %w", err)
	}
	return d, nil
}

// ReasonOpen is the reason code of work AdmitTask turns away: its tenant's
// breaker is open (tripped or paused), or half-open with its one trial
// already running. Retry later.
const ReasonOpen = "breaker_open"

// ErrOpen is AdmitTask's error for work that must not run now. It reports
// ReasonOpen (a Reason() string method, read by internal/outcome) and is
// not permanent: retry later.
var ErrOpen error = openError{}

type openError struct{}

func (openError) Error() string  { return "breaker: the tenant's breaker is open" }
func (openError) Reason() string { return ReasonOpen }

// AdmitTask is Admit for work whose transport holds and retries it itself
// instead of parking it: a Step Functions task, which the state machine's
// Retry brings back. jobID names the work (the trial's job id in Record's
// Outcome). When the tenant's breaker is open, paused, or half-open with
// its trial taken, the work must not run: AdmitTask returns the decision
// with ErrOpen, and nothing is kept. Otherwise the work runs (as the
// half-open trial if Decision.Trial) and its outcome goes to Record.
func (b *Breaker) AdmitTask(ctx context.Context, scope tenantdb.Scope, jobID string) (Decision, error) {
	d, err := b.enter(ctx, scope, &worker.Message{ID: jobID}, mode{}, nil)
	if err != nil {
		return Decision{}, fmt.Errorf("breaker: admit: %w", err)
	}
	if d.Park {
		b.m.TasksRefused.WithLabelValues(scope.TenantID().String()).Inc()
		b.log.Info("task refused: the tenant's breaker is open", zap.String("tenant_id", scope.TenantID().String()),
			zap.String("job_id", jobID))
		return d, ErrOpen
	}
	return d, nil
}

// mode is how a caller acts on the decision: Guard keeps (parks or defers)
// in the same transaction what must not run; Admit and AdmitTask only say so.
type mode struct {
	keep bool
	// backlogged (keep only): the worker already holds a backlog of the
	// tenant, so a message of a closed breaker is deferred.
	backlogged bool
}

// plan is decide's answer: the Decision, and what its transaction writes.
type plan struct {
	d Decision
	// keep is the reason to keep the message with ("": it is not kept).
	keep string
	// save is the breaker row to write (a trial claimed, a breaker
	// half-opened), nil for none.
	save *row
	// seen is the breaker as the decision leaves it.
	seen row
}

// reader reads the session tenant's breaker row (load): lock says under
// the row lock; found is false for a tenant without one.
type reader func(lock bool) (r row, found bool, now time.Time, err error)

// decide is the one decision of Admit, Guard and AdmitTask about message m
// (its id is the trial's job id; a released message carries the seq of
// its parked row): run, run as the trial, or must not run (parked, or
// deferred behind its tenant's backlog when md.keep). A closed breaker is
// decided on one read without a lock (the common case); any other is read
// again under the lock, since the decision may claim its trial.
func decide(read reader, m *worker.Message, md mode, cfg Config) (plan, error) {
	r, found, _, err := read(false)
	if err != nil {
		return plan{}, err
	}
	if !found || r.State == Closed {
		// Work parked while the breaker was open (or deferred before it
		// closed) and not yet released goes first: a new message waits
		// behind it. A released message is one of them, fed back in order.
		if md.keep && (md.backlogged || (r.Pending && m.Attributes[AttrReleasedSeq] == "")) {
			return plan{d: Decision{Kept: ReasonDeferred}, keep: ReasonDeferred, seen: r}, nil
		}
		return plan{seen: r}, nil
	}
	r, found, now, err := read(true)
	if err != nil || !found {
		return plan{seen: r}, err
	}
	next, d := admit(r, m.ID, m.Attributes[AttrReleasedSeq], cfg, now)
	p := plan{d: d, seen: next}
	switch {
	case d.Park && md.keep:
		p.d.Kept, p.keep = "parked", d.Reason
	case d.Trial || d.HalfOpened:
		p.save = &next
	}
	return p, nil
}

// enter decides about m in one transaction of scope's tenant and writes
// what the decision says (the kept message, the claimed trial); with, if
// set, runs in that transaction after a decision that keeps nothing.
func (b *Breaker) enter(ctx context.Context, scope tenantdb.Scope, m *worker.Message, md mode,
	with func(ctx context.Context, tx tenantdb.Tx) error) (Decision, error) {
	var (
		p plan
		n int64
	)
	err := b.db.WithTenant(ctx, scope.WithActor(Actor), func(ctx context.Context, tx tenantdb.Tx) error {
		var err error
		if p, n, err = b.apply(ctx, tx, m, md); err != nil || p.d.Kept != "" || with == nil {
			return err
		}
		return with(ctx, tx)
	})
	if err != nil {
		return Decision{}, err
	}
	return b.settle(scope, m, p, n), nil
}

// apply decides about m in tx (decide) and writes what the plan says: the
// kept message (n: rows inserted, 0 if it was kept before) or the claimed
// trial.
func (b *Breaker) apply(ctx context.Context, tx tenantdb.Tx, m *worker.Message, md mode) (p plan, n int64, err error) {
	p, err = decide(func(lock bool) (row, bool, time.Time, error) { return load(ctx, tx, lock) }, m, md, b.cfg)
	if err != nil {
		return p, 0, err
	}
	switch {
	case p.keep != "":
		n, err = keep(ctx, tx, m, p.keep)
	case p.save != nil:
		err = save(ctx, tx, *p.save, p.d.HalfOpened, "")
	}
	return p, n, err
}

// settle counts and logs a committed decision about m and returns it.
func (b *Breaker) settle(scope tenantdb.Scope, m *worker.Message, p plan, n int64) Decision {
	b.m.seen(scope.TenantID(), p.seen)
	if p.d.HalfOpened {
		b.m.transition(scope.TenantID(), halfOpen)
	}
	switch {
	case p.d.Kept == ReasonDeferred:
		b.kept(scope, m, ReasonDeferred, "defer", n)
	case p.d.Kept != "":
		b.kept(scope, m, p.d.Reason, Park, n)
	case p.d.Trial:
		b.log.Info("breaker half-open: message runs as the trial", zap.String("tenant_id", scope.TenantID().String()),
			zap.String("job_id", scope.JobID()), zap.String("message_id", m.ID))
	}
	return p.d
}

// ReasonDeferred is the reason of a message parked not because its
// tenant's breaker is open but because the tenant already has a backlog
// waiting on this worker (Defer): the releaser feeds it back as the
// tenant's share allows, without an audit event.
const ReasonDeferred = "deferred"

// Defer parks m like Park, as fair-dispatch overflow: the worker moves a
// backlogged tenant's messages out of the shared queue so other tenants'
// messages behind them are reached, and gets them back in order.
func (b *Breaker) Defer(ctx context.Context, scope tenantdb.Scope, m *worker.Message) error {
	return b.park(ctx, scope, m, ReasonDeferred, "defer")
}

// Park keeps m for scope's tenant until its breaker releases it: committed
// before it returns, so the caller may then delete the message from the
// queue. A message parked before (a redelivery) is parked once.
func (b *Breaker) Park(ctx context.Context, scope tenantdb.Scope, m *worker.Message, reason string) error {
	return b.park(ctx, scope, m, reason, Park)
}

func (b *Breaker) park(ctx context.Context, scope tenantdb.Scope, m *worker.Message, reason string, event Transition) error {
	var n int64
	err := b.db.WithTenant(ctx, scope.WithActor(Actor), func(ctx context.Context, tx tenantdb.Tx) error {
		var err error
		n, err = keep(ctx, tx, m, reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("breaker: park: %w", err)
	}
	b.kept(scope, m, reason, event, n)
	return nil
}

// keep inserts m into the session tenant's parked messages (once per
// message id) and reports whether it was new.
func keep(ctx context.Context, tx tenantdb.Tx, m *worker.Message, reason string) (int64, error) {
	attrs, err := json.Marshal(stringAttributes(m.Attributes))
	if err != nil {
		return 0, err
	}
	// The releaser finds parked work through the tenant's breaker row.
	if _, err := tx.Exec(ctx, `INSERT INTO tenant_breakers (tenant_id) VALUES (tenantry_current_tenant()) ON CONFLICT DO NOTHING`); err != nil {
		return 0, err
	}
	// The tenant comes from the session (the verified scope), never from an argument.
	return tx.Exec(ctx, `INSERT INTO parked_messages (tenant_id, message_id, body, attributes, reason)
		VALUES (tenantry_current_tenant(), $1, $2, $3, $4) ON CONFLICT (tenant_id, message_id) DO NOTHING`,
		clip(m.ID, 256), string(m.Body), attrs, clip(reason, 256))
}

// kept counts and logs a message parked (event Park) or deferred.
func (b *Breaker) kept(scope tenantdb.Scope, m *worker.Message, reason string, event Transition, n int64) {
	if n > 0 {
		kind := kindBreaker
		if event != Park {
			kind = kindDeferred
		}
		b.m.Parked.WithLabelValues(scope.TenantID().String(), kind).Inc()
	}
	if event != Park {
		b.log.Debug("message deferred: its tenant has a backlog waiting", zap.String("tenant_id", scope.TenantID().String()),
			zap.String("job_id", scope.JobID()), zap.String("message_id", m.ID))
		return
	}
	b.log.Info("message parked: the tenant's breaker is open", zap.String("tenant_id", scope.TenantID().String()),
		zap.String("job_id", scope.JobID()), zap.String("message_id", m.ID), zap.String("reason", reason),
		zap.Bool("already_parked", n == 0))
}

// Guard is Admit, then Park or (backlogged: the worker already holds a
// backlog of this tenant) Defer, in one transaction: the message is kept
// (Decision.Kept) and may be deleted from the queue, or it runs (as the
// trial if Decision.Trial), and its outcome goes to Record. A trial is
// never deferred. A new message of a closed breaker whose tenant still has
// work parked before the breaker closed is deferred behind it, so a
// tenant's work runs in order after its breaker closes.
//
// Backlogged messages of one tenant arriving together are kept in one
// transaction (group commit): a backlog overflowing the worker's intake
// costs one commit per batch, not one per message.
func (b *Breaker) Guard(ctx context.Context, scope tenantdb.Scope, m *worker.Message, backlogged bool) (Decision, error) {
	return b.GuardWith(ctx, scope, m, backlogged, nil)
}

// GuardWith is Guard that, for a message not backlogged, also runs with in
// the decision's transaction when the message is not kept (it runs, or
// runs as the trial): a read the caller makes before the work anyway (the
// ingest handler's precheck of the stored document) costs no transaction
// of its own. with runs under scope's tenant with the breaker's actor; it
// must not write audit rows. An error of with rolls the decision back (a
// claimed trial included) and is returned as Guard's. A backlogged message
// is decided in its tenant's batch (see Guard) and with is not run: the
// caller runs its read itself when the message is not kept.
func (b *Breaker) GuardWith(ctx context.Context, scope tenantdb.Scope, m *worker.Message, backlogged bool,
	with func(ctx context.Context, tx tenantdb.Tx) error) (Decision, error) {
	if !backlogged {
		d, err := b.enter(ctx, scope, m, mode{keep: true}, with)
		if err != nil {
			return Decision{}, fmt.Errorf("breaker: guard: %w", err)
		}
		return d, nil
	}
	p, n, err := b.decideTogether(ctx, scope, m)
	if err != nil {
		return Decision{}, fmt.Errorf("breaker: guard: %w", err)
	}
	return b.settle(scope, m, p, n), nil
}

// Record counts the outcome of a message that ran for scope's tenant and
// trips, closes or re-opens the breaker as the rules say. It returns the
// transition made.
func (b *Breaker) Record(ctx context.Context, scope tenantdb.Scope, o Outcome) (Transition, error) {
	var (
		tr     Transition
		reason string
	)
	err := b.db.WithTenant(ctx, scope.WithActor(Actor), func(ctx context.Context, tx tenantdb.Tx) error {
		if !o.Failed && !o.Transient && !o.Trial {
			// The common case: a success on a closed breaker can change
			// nothing but the counts. One statement.
			if ok, err := b.CountSuccess(ctx, tx); err != nil || ok {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO tenant_breakers (tenant_id) VALUES (tenantry_current_tenant()) ON CONFLICT DO NOTHING`); err != nil {
			return err
		}
		r, _, now, err := load(ctx, tx, true)
		if err != nil {
			return err
		}
		o.Reason = worker.SanitizeReason(o.Reason)
		var next row
		next, tr, reason = record(r, o, b.cfg, now)
		if err := save(ctx, tx, next, tr != NoChange, Actor); err != nil {
			return err
		}
		if tr != NoChange {
			return audit(ctx, tx, tr, reason)
		}
		return nil
	})
	if err != nil {
		return NoChange, fmt.Errorf("breaker: record: %w", err)
	}
	if tr != NoChange {
		b.m.transition(scope.TenantID(), tr)
		b.log.Warn("breaker "+string(tr), zap.String("tenant_id", scope.TenantID().String()),
			zap.String("job_id", scope.JobID()), zap.String("reason", reason), zap.String("actor", Actor))
	}
	return tr, nil
}

// CountSuccess is Record of one success that is not a trial, as a
// statement of the caller's transaction (tx, under the tenant's verified
// scope): the ingest handler counts a document's success in the
// transaction that makes the document ready, so it is counted exactly when
// that commits, with no transaction of its own. It reports false, having
// changed nothing, when the tenant's breaker is not closed or has no row
// yet: the caller then calls Record, which decides the transition.
func (b *Breaker) CountSuccess(ctx context.Context, tx tenantdb.Tx) (bool, error) {
	n, err := tx.Exec(ctx, `UPDATE tenant_breakers SET
		window_total = CASE WHEN now() - window_start >= make_interval(secs => $1) THEN 1 ELSE window_total + 1 END,
		window_failures = CASE WHEN now() - window_start >= make_interval(secs => $1) THEN 0 ELSE window_failures END,
		window_start = CASE WHEN now() - window_start >= make_interval(secs => $1) THEN now() ELSE window_start END,
		consecutive_failures = 0
		WHERE tenant_id = tenantry_current_tenant() AND state = 'closed'`, b.cfg.Window.Seconds())
	if err != nil {
		return false, fmt.Errorf("breaker: count success: %w", err)
	}
	return n == 1, nil
}

// Pause opens scope's tenant's breaker until Resume (an operator's or the
// tenant's own administrator's pause; the scope's actor is audited).
func (b *Breaker) Pause(ctx context.Context, scope tenantdb.Scope, reason string) error {
	return b.transition(ctx, scope, Pause, reason)
}

// Resume closes scope's tenant's breaker; its parked work is then released
// in order.
func (b *Breaker) Resume(ctx context.Context, scope tenantdb.Scope, reason string) error {
	return b.transition(ctx, scope, Resume, reason)
}

func (b *Breaker) transition(ctx context.Context, scope tenantdb.Scope, tr Transition, reason string) error {
	err := b.db.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		return operate(ctx, tx, tr, reason)
	})
	if err != nil {
		return fmt.Errorf("breaker: %s: %w", tr, err)
	}
	b.m.transition(scope.TenantID(), tr)
	b.log.Warn("breaker "+string(tr), zap.String("tenant_id", scope.TenantID().String()),
		zap.String("job_id", scope.JobID()), zap.String("reason", reason), zap.String("actor", scope.Actor()))
	return nil
}

// Status reads scope's tenant's breaker.
func (b *Breaker) Status(ctx context.Context, scope tenantdb.Scope) (Status, error) {
	var st Status
	err := b.db.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		var err error
		st, err = status(ctx, tx)
		return err
	})
	return st, err
}

// ErrReasonRequired is returned by a pause or resume without a reason.
var ErrReasonRequired = errors.New("breaker: a reason is required")

// operate applies an operator's pause or resume in tx (the session tenant
// and actor are the tx's scope).
func operate(ctx context.Context, tx tenantdb.Tx, tr Transition, reason string) error {
	if reason == "" {
		return ErrReasonRequired
	}
	reason = clip(worker.TruncateText(reason, 256), 256)
	if _, err := tx.Exec(ctx, `INSERT INTO tenant_breakers (tenant_id) VALUES (tenantry_current_tenant()) ON CONFLICT DO NOTHING`); err != nil {
		return err
	}
	r, _, _, err := load(ctx, tx, true)
	if err != nil {
		return err
	}
	switch tr {
	case Pause:
		r.State, r.Manual, r.Reason, r.RetryAt, r.TrialJob, r.TrialUntil = Open, true, reason, nil, "", nil
	case Resume:
		r = closed(r)
		r.Reason = reason
	default:
		return fmt.Errorf("breaker: not an operator transition: %q", tr)
	}
	if err := save(ctx, tx, r, true, tx.Scope().Actor()); err != nil {
		return err
	}
	return audit(ctx, tx, tr, reason)
}

func audit(ctx context.Context, tx tenantdb.Tx, tr Transition, reason string) error {
	_, err := tx.Audit(ctx, "breaker."+string(tr), "breaker", "", reason)
	return err
}

// Every statement names the session tenant explicitly: row-level security
// scopes the worker, and the owner (operators, whose read policy sees every
// tenant) acts on the one tenant it named too.
const rowColumns = `state, manual, reason, retry_at, trial_job, trial_until, window_start, window_total,
	window_failures, consecutive_failures, last_failures`

// load reads the session tenant's breaker row (ok false: none) and the
// database's clock, which every worker shares.
func load(ctx context.Context, tx tenantdb.Tx, forUpdate bool) (r row, ok bool, now time.Time, err error) {
	// Without a lock, the same round trip also says whether the tenant's
	// oldest message waiting for release (refused ones never are) was kept
	// before the breaker last changed state: work parked while it was open.
	// Deferrals since then (fair-dispatch overflow) do not count, so they
	// never make a tenant's every message take the deferral path. One index
	// probe, not a count.
	pending := `COALESCE((SELECT p.parked_at < tenant_breakers.changed_at FROM parked_messages p
		WHERE p.tenant_id = tenantry_current_tenant() AND p.refused = '' ORDER BY p.seq LIMIT 1), false)`
	if forUpdate {
		pending = `false`
	}
	q := `SELECT ` + rowColumns + `, now(), ` + pending + ` FROM tenant_breakers WHERE tenant_id = tenantry_current_tenant()`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var state string
	err = tx.QueryRow(ctx, q).Scan(&state, &r.Manual, &r.Reason, &r.RetryAt, &r.TrialJob, &r.TrialUntil, &r.WindowStart,
		&r.WindowTotal, &r.WindowFailures, &r.ConsecutiveFailures, &r.LastFailures, &now, &r.Pending)
	if errors.Is(err, tenantdb.ErrNoRows) {
		err = tx.QueryRow(ctx, `SELECT now()`).Scan(&now)
		return row{State: Closed, WindowStart: now}, false, now, err
	}
	r.State = State(state)
	return r, err == nil, now, err
}

// save writes the session tenant's breaker row; changed stamps changed_at
// (and the actor, if not "").
func save(ctx context.Context, tx tenantdb.Tx, r row, changed bool, actor string) error {
	last, err := json.Marshal(r.LastFailures)
	if err != nil {
		return err
	}
	if r.LastFailures == nil {
		last = []byte("[]")
	}
	_, err = tx.Exec(ctx, `UPDATE tenant_breakers SET state = $1, manual = $2, reason = $3, retry_at = $4, trial_job = $5,
		trial_until = $6, window_start = $7, window_total = $8, window_failures = $9, consecutive_failures = $10,
		last_failures = $11, changed_at = CASE WHEN $12 THEN now() ELSE changed_at END,
		actor = CASE WHEN $12 AND $13 <> '' THEN $13 ELSE actor END
		WHERE tenant_id = tenantry_current_tenant()`,
		string(r.State), r.Manual, clip(r.Reason, 256), r.RetryAt, clip(r.TrialJob, 256), r.TrialUntil, r.WindowStart,
		r.WindowTotal, r.WindowFailures, r.ConsecutiveFailures, last, changed, clip(actor, 256))
	return err
}

func status(ctx context.Context, tx tenantdb.Tx) (Status, error) {
	st := Status{Tenant: tx.Scope().TenantID().String(), State: Closed, LastFailures: []Failure{}}
	var state string
	err := tx.QueryRow(ctx, `SELECT state, manual, reason, actor, changed_at, retry_at, window_total, window_failures,
		consecutive_failures, last_failures FROM tenant_breakers WHERE tenant_id = tenantry_current_tenant()`).Scan(&state, &st.Manual, &st.Reason, &st.Actor,
		&st.ChangedAt, &st.RetryAt, &st.WindowTotal, &st.WindowFailures, &st.ConsecutiveFailures, &st.LastFailures)
	switch {
	case errors.Is(err, tenantdb.ErrNoRows):
	case err != nil:
		return st, err
	default:
		st.State = State(state)
	}
	if st.LastFailures == nil {
		st.LastFailures = []Failure{}
	}
	err = tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE refused = ''), count(*) FILTER (WHERE refused <> '')
		FROM parked_messages WHERE tenant_id = tenantry_current_tenant()`).Scan(&st.Parked, &st.Refused)
	return st, err
}

// stringAttributes keeps a message's string attributes except the
// releaser's own marker (a message is released under its current seq).
func stringAttributes(attrs map[string]string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if k != AttrReleasedSeq {
			out[k] = v
		}
	}
	return out
}

func seqString(seq int64) string { return strconv.FormatInt(seq, 10) }
