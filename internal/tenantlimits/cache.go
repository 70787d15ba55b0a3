package tenantlimits

import (
	"context"
	"sync"
	"time"

	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Gateway runs tenant-scoped transactions (*tenantdb.DB).
type Gateway interface {
	WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(ctx context.Context, tx tenantdb.Tx) error) error
}

// DefaultRefresh is how long a worker trusts the limits it read.
const DefaultRefresh = 5 * time.Second

// Cache reads tenants' limits under their verified scopes and keeps them
// for Refresh, so every worker follows a change within Refresh without a
// query per message.
type Cache struct {
	db      Gateway
	refresh time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	l  Limits
	at time.Time
}

// NewCache returns a Cache on db (refresh 0: DefaultRefresh).
func NewCache(db Gateway, refresh time.Duration) *Cache {
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	return &Cache{db: db, refresh: refresh, now: time.Now, entries: map[string]entry{}}
}

// Scope returns ctx carrying scope's tenant's limits and its verified
// scope, as Dispatcher.Acquire does, for work that takes no dispatcher slot
// (a Step Functions task): the Budget then holds the call to the tenant's
// provider budget and tallies its usage. scope must come from the gate.
func (c *Cache) Scope(ctx context.Context, scope tenantdb.Scope) context.Context {
	l, _ := c.Get(ctx, scope) // Default on a read failure, as in Acquire
	return withTenant(ctx, scope, l)
}

// Get returns scope's tenant's limits. If they cannot be read and none are
// cached, the tenant runs under Default (the limits are a fairness tool,
// not a security boundary: a database hiccup must not stop the worker).
func (c *Cache) Get(ctx context.Context, scope tenantdb.Scope) (Limits, error) {
	id := scope.TenantID().String()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && c.now().Sub(e.at) < c.refresh {
		return e.l, nil
	}
	var l Limits
	err := c.db.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		var err error
		l, err = read(ctx, tx)
		return err
	})
	if err != nil {
		if ok {
			return e.l, err
		}
		return Default, err
	}
	c.mu.Lock()
	c.entries[id] = entry{l: l, at: c.now()}
	if len(c.entries) > 100000 { // bounded: forget everything stale
		for k, v := range c.entries {
			if c.now().Sub(v.at) >= c.refresh {
				delete(c.entries, k)
			}
		}
	}
	c.mu.Unlock()
	return l, nil
}
