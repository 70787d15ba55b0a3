package ingest_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/ingest"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
)

// countingGateway counts the tenant transactions run through it.
type countingGateway struct {
	g pgstore.Gateway
	n atomic.Int64
}

func (c *countingGateway) WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(ctx context.Context, tx tenantdb.Tx) error) error {
	c.n.Add(1)
	return c.g.WithTenant(ctx, scope, fn)
}

// TestGuardedIngestTransactions: with a breaker, a document's precheck is
// read in the breaker decision's transaction and its success is counted in
// the transaction that makes it ready — three tenant transactions for a new
// document instead of five — and every message's outcome is counted
// exactly once: a redelivery (answered by the precheck) and the tenant's
// first document (no breaker row yet: Record creates it) are recorded on
// their own; a message of a paused tenant is parked without its precheck.
func TestGuardedIngestTransactions(t *testing.T) {
	t.Parallel()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	cg := &countingGateway{g: gw}
	b, err := breaker.New(breaker.Config{}, cg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	kit := envelopetest.New(t)
	mem := &memS3{objs: map[string]memObj{}, calls: map[string]int{}}
	r := objects.New(mem)
	h, err := ingest.New(ingest.Config{}, ingest.Deps{
		DB: gw, Gate: &binding.Resolver{Verifier: kit.Verifier(t), Objects: r}, Objects: r, Store: pgstore.New(cg, nil), Breaker: b,
		Processor: &pipeline.Processor{Fetcher: r, Extractor: extractor{}, Chunker: chunker{}, Embedder: &embedder{hang: func(int) bool { return false }}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &sidecarEnv{t: t, s3: mem, kit: kit, h: h, admin: tenantdbtest.Conn(t, db.AdminURL), tenant: uuid.New(), bucket: "docs"}
	paused := uuid.New()
	op, err := tenantdb.OpenOperator(context.Background(), db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	if err := breaker.NewOperator(op, nil, nil).Pause(context.Background(), paused, "ops", "held"); err != nil {
		t.Fatal(err)
	}
	counted := func(tenant uuid.UUID) int {
		return e.n(`SELECT coalesce(sum(window_total), 0)::int FROM tenant_breakers WHERE tenant_id = $1`, tenant)
	}
	for _, tc := range []struct {
		name    string
		tenant  uuid.UUID
		doc     string
		seq     string
		txs     int64 // tenant transactions of the store and the breaker
		counted int   // the tenant's outcomes counted after it
		ready   int   // the tenant's ready documents after it
	}{
		{"first document: no breaker row, Record creates it", e.tenant, "a", "0001", 4, 1, 1},
		{"new document: guard+precheck, claim, commit+count", e.tenant, "b", "0001", 3, 2, 2},
		{"redelivery: guard+precheck, then Record", e.tenant, "b", "0001", 2, 3, 2},
		{"paused tenant: parked, nothing read", paused, "c", "0001", 1, 0, 0},
	} {
		key := tc.tenant.String() + "/" + tc.doc + "/f.txt"
		e.upload(key, tc.tenant, nil)
		before := cg.n.Load()
		e.must(e.event("ObjectCreated:Put", key, tc.seq))
		if got := cg.n.Load() - before; got != tc.txs {
			t.Errorf("%s: %d tenant transactions, want %d", tc.name, got, tc.txs)
		}
		if got := counted(tc.tenant); got != tc.counted {
			t.Errorf("%s: %d outcomes counted, want %d", tc.name, got, tc.counted)
		}
		if got := e.n(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'ready'`, tc.tenant); got != tc.ready {
			t.Errorf("%s: %d ready documents, want %d", tc.name, got, tc.ready)
		}
	}
}
