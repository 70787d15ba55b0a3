package usage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Gateway is the tenant gateway (*tenantdb.DB).
type Gateway interface {
	WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(ctx context.Context, tx tenantdb.Tx) error) error
}

// Actor is the actor of the meter's transactions.
const Actor = "tenantry:usage"

// Counts is a tally of provider usage.
type Counts struct {
	Requests  int64
	Tokens    int64
	Throttled int64
}

func (c *Counts) add(o Counts) {
	c.Requests += o.Requests
	c.Tokens += o.Tokens
	c.Throttled += o.Throttled
}

// Meter tallies usage per tenant per minute in memory and flushes it to the
// database in batches (Flush, Run).
type Meter struct {
	db  Gateway
	log *zap.Logger
	now func() time.Time

	mu      sync.Mutex
	pending map[uuid.UUID]*tenantTally
}

type tenantTally struct {
	scope   tenantdb.Scope
	minutes map[time.Time]Counts
}

// NewMeter returns a meter writing through db. A nil logger is a nop.
func NewMeter(db Gateway, logger *zap.Logger) *Meter {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Meter{db: db, log: logger, now: time.Now, pending: map[uuid.UUID]*tenantTally{}}
}

// Add tallies c for scope's tenant in the current minute. It touches only
// memory; a zero scope is ignored (no tenant, nothing to record).
func (m *Meter) Add(scope tenantdb.Scope, c Counts) {
	if scope.IsZero() || c == (Counts{}) {
		return
	}
	minute := m.now().UTC().Truncate(time.Minute)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addLocked(scope, minute, c)
}

func (m *Meter) addLocked(scope tenantdb.Scope, minute time.Time, c Counts) {
	t := m.pending[scope.TenantID()]
	if t == nil {
		t = &tenantTally{minutes: map[time.Time]Counts{}}
		m.pending[scope.TenantID()] = t
	}
	t.scope = scope.WithJob("").WithActor(Actor)
	n := t.minutes[minute]
	n.add(c)
	t.minutes[minute] = n
}

// Flush writes every pending tally: one transaction per tenant, scoped to
// it. A tenant whose write fails keeps its tally for the next flush.
func (m *Meter) Flush(ctx context.Context) error {
	m.mu.Lock()
	batch := m.pending
	m.pending = map[uuid.UUID]*tenantTally{}
	m.mu.Unlock()

	ids := make([]uuid.UUID, 0, len(batch))
	for id := range batch {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	var errs []error
	for _, id := range ids {
		t := batch[id]
		if err := m.db.WithTenant(ctx, t.scope, func(ctx context.Context, tx tenantdb.Tx) error {
			return write(ctx, tx, t.minutes)
		}); err != nil {
			errs = append(errs, fmt.Errorf("usage: flush tenant %s: %w", id, err))
			m.mu.Lock()
			for minute, c := range t.minutes {
				m.addLocked(t.scope, minute, c)
			}
			m.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

func write(ctx context.Context, tx tenantdb.Tx, minutes map[time.Time]Counts) error {
	keys := make([]time.Time, 0, len(minutes))
	for k := range minutes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Before(keys[j]) })
	at := make([]time.Time, len(keys))
	req, tok, thr := make([]int64, len(keys)), make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		c := minutes[k]
		at[i], req[i], tok[i], thr[i] = k, c.Requests, c.Tokens, c.Throttled
	}
	_, err := tx.Exec(ctx, `INSERT INTO provider_usage AS u (tenant_id, minute, requests, tokens, throttled)
		SELECT $1, m, r, t, h FROM unnest($2::timestamptz[], $3::bigint[], $4::bigint[], $5::bigint[]) AS x(m, r, t, h)
		ON CONFLICT (tenant_id, minute) DO UPDATE SET requests = u.requests + excluded.requests,
			tokens = u.tokens + excluded.tokens, throttled = u.throttled + excluded.throttled`,
		tx.Scope().TenantID(), at, req, tok, thr)
	return err
}

// Run flushes every interval until ctx ends, then once more (with a short
// deadline of its own) so a draining worker keeps its last tallies.
func (m *Meter) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := m.Flush(fctx); err != nil {
				m.log.Warn("usage: final flush", zap.Error(err))
			}
			return nil
		case <-t.C:
			if err := m.Flush(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("usage: flush", zap.Error(err))
			}
		}
	}
}
