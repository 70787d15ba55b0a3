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

// deferrer decides about backlogged tenants' messages in batches (group
// commit): a tenant's first message opens a transaction at once; the
// messages that arrive while it runs wait and go together in the next one,
// one commit for up to maxDeferBatch messages instead of one each. Each
// message gets the one decision (apply: deferred while the breaker is
// closed, else parked or run as the trial, in arrival order). It never
// delays a lone message. Each message was verified by the gate for the
// batch's tenant; the transaction runs under the scope of the batch's
// first.
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
	// Answers, set before done closes: per message its plan and the rows
	// inserted (0: kept before).
	plans []plan
	kept  []int64
	err   error
}

// decideTogether decides about backlogged m for scope's tenant in one
// transaction with the others of that tenant arriving meanwhile, and
// returns its plan and the rows inserted.
func (b *Breaker) decideTogether(ctx context.Context, scope tenantdb.Scope, m *worker.Message) (p plan, n int64, err error) {
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
				return plan{}, 0, context.Cause(ctx)
			}
			return b.decideTogether(ctx, scope, m)
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
	if batch.err != nil {
		return plan{}, 0, batch.err
	}
	return batch.plans[i], batch.kept[i], nil
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

// runDeferBatch decides about every message of batch in one transaction.
func (b *Breaker) runDeferBatch(batch *deferBatch) {
	ctx, cancel := context.WithTimeout(context.Background(), deferTimeout)
	defer cancel()
	batch.plans = make([]plan, len(batch.msgs))
	batch.kept = make([]int64, len(batch.msgs))
	batch.err = b.db.WithTenant(ctx, batch.scopes[0].WithActor(Actor), func(ctx context.Context, tx tenantdb.Tx) error {
		for i, m := range batch.msgs {
			var err error
			if batch.plans[i], batch.kept[i], err = b.apply(ctx, tx, m, mode{keep: true, backlogged: true}); err != nil {
				return err
			}
		}
		return nil
	})
}
