package usage_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/internal/usage"
)

// countingGateway counts the transactions a flush opens, and fails the
// first failFirst of them.
type countingGateway struct {
	usage.Gateway
	txs       atomic.Int64
	failFirst int64
}

func (g *countingGateway) WithTenant(ctx context.Context, s tenantdb.Scope, fn func(context.Context, tenantdb.Tx) error) error {
	if g.txs.Add(1) <= g.failFirst {
		return errors.New("database away")
	}
	return g.Gateway.WithTenant(ctx, s, fn)
}

func stored(t *testing.T, gw *tenantdb.DB, tenant uuid.UUID) usage.Counts {
	t.Helper()
	var c usage.Counts
	err := gw.WithTenant(context.Background(), tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
		return tx.QueryRow(ctx, `SELECT coalesce(sum(requests), 0)::bigint, coalesce(sum(tokens), 0)::bigint, coalesce(sum(throttled), 0)::bigint
			FROM provider_usage`).Scan(&c.Requests, &c.Tokens, &c.Throttled)
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Many calls of two tenants, from many goroutines, become one transaction
// per tenant at flush (never a write per call), and flushes add up.
func TestMeterFlushesInBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	g := &countingGateway{Gateway: gw}
	m := usage.NewMeter(g, nil)
	a, b := uuid.New(), uuid.New()
	sa, sb := tenantdbtest.Scope(t, a), tenantdbtest.Scope(t, b)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Add(sa, usage.Counts{Requests: 1, Tokens: 10})
			m.Add(sb, usage.Counts{Requests: 1, Tokens: 3, Throttled: 1})
		}()
	}
	wg.Wait()
	m.Add(tenantdb.Scope{}, usage.Counts{Requests: 99}) // no tenant: nothing recorded
	if g.txs.Load() != 0 {
		t.Fatal("Add wrote to the database")
	}
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := g.txs.Load(); n != 2 {
		t.Fatalf("%d transactions for 100 calls of 2 tenants, want 2", n)
	}
	m.Add(sa, usage.Counts{Requests: 1, Tokens: 10})
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Flush(ctx); err != nil { // nothing pending: no transaction
		t.Fatal(err)
	}
	if n := g.txs.Load(); n != 3 {
		t.Fatalf("%d transactions, want 3", n)
	}
	for _, tc := range []struct {
		tenant uuid.UUID
		want   usage.Counts
	}{{a, usage.Counts{Requests: 51, Tokens: 510}}, {b, usage.Counts{Requests: 50, Tokens: 150, Throttled: 50}}} {
		if got := stored(t, gw, tc.tenant); got != tc.want {
			t.Errorf("tenant %s: %+v, want %+v", tc.tenant, got, tc.want)
		}
	}
}

// A failed flush loses nothing: the tally waits for the next one.
func TestMeterKeepsATallyItCouldNotWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	m := usage.NewMeter(&countingGateway{Gateway: gw, failFirst: 1}, nil)
	a := uuid.New()
	m.Add(tenantdbtest.Scope(t, a), usage.Counts{Requests: 2, Tokens: 8})
	if err := m.Flush(ctx); err == nil {
		t.Fatal("a failed write was not reported")
	}
	m.Add(tenantdbtest.Scope(t, a), usage.Counts{Requests: 1, Tokens: 4})
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, gw, a); got != (usage.Counts{Requests: 3, Tokens: 12}) {
		t.Fatalf("after a failed and a good flush: %+v", got)
	}
}

// From the attacker's side: a worker scoped to tenant b can neither read,
// insert, raise nor delete tenant a's usage rows, and without a scope it
// reaches nothing at all.
func TestUsageRowsAreTenantScoped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	a, b := uuid.New(), uuid.New()
	m := usage.NewMeter(gw, nil)
	m.Add(tenantdbtest.Scope(t, a), usage.Counts{Requests: 5, Tokens: 50})
	m.Add(tenantdbtest.Scope(t, b), usage.Counts{Requests: 1, Tokens: 1})
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	asB := func(sql string, args ...any) (int64, error) {
		var n int64
		err := gw.WithTenant(ctx, tenantdbtest.Scope(t, b), func(ctx context.Context, tx tenantdb.Tx) error {
			var err error
			n, err = tx.Exec(ctx, sql, args...)
			return err
		})
		return n, err
	}
	for _, tc := range []struct {
		name    string
		sql     string
		refused bool // an error, not just zero rows
	}{
		{"read a's rows", `SELECT 1 FROM provider_usage WHERE tenant_id = $1`, false},
		{"raise a's rows", `UPDATE provider_usage SET requests = requests + 1000 WHERE tenant_id = $1`, false},
		{"insert a row as a", `INSERT INTO provider_usage (tenant_id, minute, requests) VALUES ($1, date_trunc('minute', now()) - interval '1 minute', 7)`, true},
		{"delete a's rows", `DELETE FROM provider_usage WHERE tenant_id = $1`, true},
		{"move b's row to a", `UPDATE provider_usage SET tenant_id = $1`, true},
	} {
		n, err := asB(tc.sql, a)
		if tc.refused && err == nil || !tc.refused && (err != nil || n != 0) {
			t.Errorf("%s as b: %d rows, %v", tc.name, n, err)
		}
	}
	if got := stored(t, gw, a); got != (usage.Counts{Requests: 5, Tokens: 50}) {
		t.Fatalf("a's usage after b's attempts: %+v", got)
	}
	if got := stored(t, gw, b); got != (usage.Counts{Requests: 1, Tokens: 1}) {
		t.Fatalf("b's usage after its attempts: %+v", got)
	}
	if err := gw.WithTenant(ctx, tenantdb.Scope{}, func(context.Context, tenantdb.Tx) error { return nil }); !errors.Is(err, tenantdb.ErrNoScope) {
		t.Fatalf("no scope: %v", err)
	}
	// The worker's role outside any tenant setting gets an error, not rows.
	conn := tenantdbtest.Conn(t, db.WorkerURL)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM provider_usage`).Scan(&n); err == nil {
		t.Fatalf("the worker role read %d usage rows without a tenant", n)
	}
	// The owner's console view reads both, and nothing else writes there.
	r, err := tenantdb.OpenConsoleReader(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	use, err := r.ProviderUsage(ctx, time.Now().Add(-time.Hour))
	if err != nil || use[a].Requests != 5 || use[b].Requests != 1 {
		t.Fatalf("console usage %+v, %v", use, err)
	}
}

func TestCallCountsThrottles(t *testing.T) {
	t.Parallel()
	usage.Throttled(context.Background()) // no Call: a no-op
	ctx, c := usage.WithCall(context.Background())
	usage.Throttled(ctx)
	usage.Throttled(ctx)
	if c.Throttles() != 2 {
		t.Fatalf("%d throttles, want 2", c.Throttles())
	}
}
