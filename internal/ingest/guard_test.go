package ingest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/ingest"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
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
// document instead of five; a sidecar event that ingests its document not
// stored yet counts it there too — and every message's outcome is counted
// exactly once: a redelivery (answered by the precheck) and the tenant's
// first document (no breaker row yet: Record creates it) are recorded on
// their own; a message of a paused tenant is parked without its precheck.
func TestGuardedIngestTransactions(t *testing.T) {
	t.Parallel()
	e, cg, paused := newGuardedEnv(t)
	for _, tc := range []struct {
		name    string
		tenant  uuid.UUID
		doc     string
		seq     string
		sidecar bool  // the event is the document's sidecar's
		removed bool  // the event is the object's removal
		txs     int64 // tenant transactions of the store and the breaker
		counted int   // the tenant's outcomes counted after it
		ready   int   // the tenant's ready documents after it
	}{
		{"first document: no breaker row, Record creates it", e.tenant, "a", "0001", false, false, 4, 1, 1},
		{"new document: guard+precheck, claim, commit+count", e.tenant, "b", "0001", false, false, 3, 2, 2},
		{"redelivery: guard+precheck, then Record", e.tenant, "b", "0001", false, false, 2, 3, 2},
		{"sidecar of a document not stored: guard, read, claim, commit+count", e.tenant, "d", "0001", true, false, 4, 4, 3},
		{"paused tenant: parked, nothing read", paused, "c", "0001", false, false, 1, 0, 0},
		{"object removed: guard, read, delete+count", e.tenant, "b", "0002", false, true, 3, 5, 2},
	} {
		key := tc.tenant.String() + "/" + tc.doc + "/f.txt"
		event := "ObjectCreated:Put"
		if tc.removed {
			event = "ObjectRemoved:Delete"
			e.s3.del(key)
		} else {
			e.upload(key, tc.tenant, nil)
		}
		if tc.sidecar {
			key += retrieval.SidecarSuffix
			e.s3.put(key, `{"metadataAttributes":{"year":2024}}`, nil, nil)
		}
		e.guarded(t, cg, tc.name, tc.tenant, func() error { return e.event(event, key, tc.seq) }, tc.txs, tc.counted, tc.ready)
	}
}

// newGuardedEnv is a handler with a breaker whose store and breaker run
// their tenant transactions through cg, and a tenant (paused) whose
// breaker an operator opened.
func newGuardedEnv(t *testing.T) (e *sidecarEnv, cg *countingGateway, paused uuid.UUID) {
	t.Helper()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	cg = &countingGateway{g: gw}
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
	e = &sidecarEnv{t: t, s3: mem, kit: kit, h: h, admin: tenantdbtest.Conn(t, db.AdminURL), tenant: uuid.New(), bucket: "docs"}
	paused = uuid.New()
	op, err := tenantdb.OpenOperator(context.Background(), db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	if err := breaker.NewOperator(op, nil, nil).Pause(context.Background(), paused, "ops", "held"); err != nil {
		t.Fatal(err)
	}
	return e, cg, paused
}

// guarded delivers one message of tenant (send) and checks the tenant
// transactions it took through cg, the tenant's outcomes counted after it
// and its ready documents.
func (e *sidecarEnv) guarded(t *testing.T, cg *countingGateway, name string, tenant uuid.UUID, send func() error, txs int64, counted, ready int) {
	t.Helper()
	before := cg.n.Load()
	e.must(send())
	if got := cg.n.Load() - before; got != txs {
		t.Errorf("%s: %d tenant transactions, want %d", name, got, txs)
	}
	if got := e.counted(tenant); got != counted {
		t.Errorf("%s: %d outcomes counted, want %d", name, got, counted)
	}
	if got := e.n(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'ready'`, tenant); got != ready {
		t.Errorf("%s: %d ready documents, want %d", name, got, ready)
	}
}

// counted is how many outcomes tenant's breaker counted in its window.
func (e *sidecarEnv) counted(tenant uuid.UUID) int {
	return e.n(`SELECT coalesce(sum(window_total), 0)::int FROM tenant_breakers WHERE tenant_id = $1`, tenant)
}

// job delivers one signed job message of tenant and returns the handler's
// outcome.
func (e *sidecarEnv) job(tenant uuid.UUID, act envelope.Action, resource, body string) error {
	e.msgs++
	env := e.kit.Job(e.t, tenant, act, resource, []byte(body))
	m := &worker.Message{ID: fmt.Sprintf("m-%d", e.msgs), Body: []byte(`{"envelope":"` + env + `","job":` + body + `}`)}
	return deliver(context.Background(), e.h, m)
}

// TestGuardedJobTransactions: an ingest job and a reindex job count their
// success with the tenant's breaker in the transaction that makes the
// document ready, and a delete or purge job in the transaction that
// deletes, as an S3 event does — one tenant transaction fewer per
// document, and each outcome counted exactly once: a job whose document is
// already stored as these bytes (nothing made ready) and the tenant's first
// document (no breaker row yet: Record creates it) are recorded on their
// own; a job of a paused tenant is parked.
func TestGuardedJobTransactions(t *testing.T) {
	t.Parallel()
	e, cg, paused := newGuardedEnv(t)
	ingestJob := func(tenant uuid.UUID, doc string) func() error {
		key := tenant.String() + "/" + doc + "/f.txt"
		e.upload(key, tenant, nil)
		return func() error {
			return e.job(tenant, envelope.ActionIngest, envelope.ObjectResource(e.bucket, key),
				`{"type":"ingest","bucket":"`+e.bucket+`","key":"`+key+`"}`)
		}
	}
	reindexJob := func(tenant uuid.UUID, doc string) func() error {
		return func() error {
			return e.job(tenant, envelope.ActionReindex, envelope.DocumentResource(doc), `{"type":"reindex","document_id":"`+doc+`"}`)
		}
	}
	versions := func(tenant uuid.UUID) int {
		return e.n(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action IN ('document.ingested', 'document.reindexed')`, tenant)
	}
	for _, tc := range []struct {
		name    string
		tenant  uuid.UUID
		send    func() error
		txs     int64 // tenant transactions of the store and the breaker
		counted int   // the tenant's outcomes counted after it
		ready   int   // the tenant's ready documents after it
		written int   // the tenant's versions written (audited) after it
	}{
		{"first ingest job: no breaker row, Record creates it", e.tenant, ingestJob(e.tenant, "a"), 4, 1, 1, 1},
		{"ingest job: guard, claim, commit+count", e.tenant, ingestJob(e.tenant, "b"), 3, 2, 2, 2},
		{"ingest job of stored bytes: guard, claim, then Record", e.tenant, ingestJob(e.tenant, "b"), 3, 3, 2, 2},
		{"reindex job: guard, read, claim, commit+count", e.tenant, reindexJob(e.tenant, "b"), 4, 4, 2, 3},
		{"delete job: guard, delete+count", e.tenant, func() error {
			return e.job(e.tenant, envelope.ActionDelete, envelope.DocumentResource("a"), `{"type":"delete","document_id":"a"}`)
		}, 2, 5, 1, 3},
		{"purge job: guard, purge+count", e.tenant, func() error {
			return e.job(e.tenant, envelope.ActionPurge, "doc:all", `{"type":"purge_tenant"}`)
		}, 2, 6, 0, 3},
		{"paused tenant: parked, nothing read", paused, ingestJob(paused, "c"), 1, 0, 0, 0},
	} {
		e.guarded(t, cg, tc.name, tc.tenant, tc.send, tc.txs, tc.counted, tc.ready)
		if got := versions(tc.tenant); got != tc.written {
			t.Errorf("%s: %d versions written, want %d", tc.name, got, tc.written)
		}
	}
}
