package breaker

import (
	"context"
	"sync"
	"time"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/worker"
)

// maxDeferBatch bounds the messages one deferral transaction keeps.
const maxDeferBatch = 100

// deferTimeout bounds one deferral transaction (it outlives the callers'
// contexts: every caller waits for its answer).
const deferTimeout = 30 * time.Second

// deferrer keeps backlogged tenants' messages in batches (group commit): a
// tenant's first message opens a transaction at once; the messages that
// arrive while it runs wait and go together in the next one, one commit
// for up to maxDeferBatch messages instead of one each. It never delays a
// lone message. Each message was verified by the gate for the batch's
// tenant; the transaction runs under the scope of the batch's first.
type deferrer struct {
	mu      sync.Mutex
	tenants map[string]*deferLine
}

// deferLine is one tenant's batches: one running, the next filling.
type deferLine struct {
	running bool
	next    *deferBatch
}

type deferBatch struct {
	scopes []tenantdb.Scope
	msgs   []*worker.Message
	done   chan struct{}
	// Answers, set before done closes.
	kept []int64 // per message: rows inserted (0: kept before)
	open bool    // the breaker was not closed: nothing kept, decide one by one
	err  error
}

// keep defers m for scope's tenant with others of that tenant arriving
// meanwhile. It returns the rows inserted, or open true (nothing kept) when
// the tenant's breaker is not closed.
func (b *Breaker) keepDeferred(ctx context.Context, scope tenantdb.Scope, m *worker.Message) (n int64, open bool, err error) {
	d := &b.deferrer
	tenant := scope.TenantID().String()
	d.mu.Lock()
	if d.tenants == nil {
		d.tenants = map[string]*deferLine{}
	}
	line := d.tenants[tenant]
	if line == nil {
		line = &deferLine{}
		d.tenants[tenant] = line
	}
	if line.next == nil || len(line.next.msgs) >= maxDeferBatch {
		if line.next != nil {
			// Full: this message waits for the one after; the full batch
			// runs next. Rare (a burst of more than maxDeferBatch).
			d.mu.Unlock()
			select {
			case <-line.next.done:
			case <-ctx.Done():
				return 0, false, context.Cause(ctx)
			}
			return b.keepDeferred(ctx, scope, m)
		}
		line.next = &deferBatch{done: make(chan struct{})}
	}
	batch := line.next
	i := len(batch.msgs)
	batch.scopes = append(batch.scopes, scope)
	batch.msgs = append(batch.msgs, m)
	lead := !line.running
	if lead {
		line.running = true
		line.next = nil
	}
	d.mu.Unlock()
	if lead {
		go b.runDeferLine(tenant, line, batch)
	}
	<-batch.done // the transaction has its own deadline
	if batch.err != nil || batch.open {
		return 0, batch.open, batch.err
	}
	return batch.kept[i], false, nil
}

// runDeferLine runs batch, then each batch that filled meanwhile, until the
// tenant's line is empty.
func (b *Breaker) runDeferLine(tenant string, line *deferLine, batch *deferBatch) {
	d := &b.deferrer
	for batch != nil {
		b.runDeferBatch(batch)
		close(batch.done)
		d.mu.Lock()
		batch = line.next
		line.next = nil
		if batch == nil {
			line.running = false
			delete(d.tenants, tenant)
		}
		d.mu.Unlock()
	}
}

// runDeferBatch keeps every message of batch in one transaction if the
// tenant's breaker is closed (a deferral is fair-dispatch overflow, not a
// breaker decision); otherwise it keeps nothing and says so.
func (b *Breaker) runDeferBatch(batch *deferBatch) {
	ctx, cancel := context.WithTimeout(context.Background(), deferTimeout)
	defer cancel()
	batch.kept = make([]int64, len(batch.msgs))
	batch.err = b.db.WithTenant(ctx, batch.scopes[0].WithActor(Actor), func(ctx context.Context, tx tenantdb.Tx) error {
		clear(batch.kept)
		batch.open = false
		r, ok, _, err := load(ctx, tx, false)
		if err != nil {
			return err
		}
		if ok && r.State != Closed {
			batch.open = true
			return nil
		}
		for i, m := range batch.msgs {
			if batch.kept[i], err = keep(ctx, tx, m, ReasonDeferred); err != nil {
				return err
			}
		}
		return nil
	})
}
