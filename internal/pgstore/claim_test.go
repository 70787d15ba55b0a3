package pgstore_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
)

// pausingGateway is the product's tenant gateway (tenantdb.WithTenant) over
// its own pool, except that the first statement containing pause, once
// armed, waits until the test lets it run: a deterministic way to stop an
// attempt between two statements of one of its transactions.
type pausingGateway struct {
	pool    *pgxpool.Pool
	pause   string
	reached chan struct{} // closed when the paused statement is about to run
	resume  chan struct{} // closed by the test to let it run
	paused  atomic.Bool   // the statement was reached (later ones run at once)
}

func newPausingGateway(t *testing.T, url, pause string) *pausingGateway {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error { return pgxvec.RegisterTypes(ctx, c) }
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &pausingGateway{pool: pool, pause: pause, reached: make(chan struct{}), resume: make(chan struct{})}
}

func (g *pausingGateway) WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(ctx context.Context, tx tenantdb.Tx) error) error {
	return tenantdb.WithTenant(ctx, g, scope, fn)
}

// Begin makes g a tenantdb.Beginner whose transactions pause.
func (g *pausingGateway) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := g.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &pausingTx{Tx: tx, g: g}, nil
}

type pausingTx struct {
	pgx.Tx
	g *pausingGateway
}

func (tx *pausingTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if strings.Contains(sql, tx.g.pause) && tx.g.paused.CompareAndSwap(false, true) {
		close(tx.g.reached)
		<-tx.g.resume
	}
	return tx.Tx.Exec(ctx, sql, args...)
}

// TestClaimJudgesADocumentCreatedAfterItsRead: two deliveries of a new
// document's event (at-least-once delivery). The second one's claim reads
// no row, then — before its upsert runs — the first delivery claims, writes
// and flips the document. The second claim must judge the row that now
// exists (these bytes are ready: ClaimDone), not overwrite it: overwriting
// put the ready document back to `processing` with nothing discarded, so a
// retry resumed over the first delivery's chunks and flipped the same
// version again (two document.ingested audit rows, as the chaos run with
// duplicate deliveries found). The same with grouped writes on and off.
func TestClaimJudgesADocumentCreatedAfterItsRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		group pgstore.GroupConfig
	}{
		{"grouped writes", pgstore.GroupConfig{MaxDocs: 16}},
		{"each document alone", pgstore.GroupConfig{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			tdb := tenantdbtest.NewDatabase(t)
			db := tdb.Open(t)
			first := pgstore.New(db, nil).Group(tc.group)
			gw := newPausingGateway(t, tdb.WorkerURL, "INSERT INTO documents")
			second := pgstore.New(gw, nil).Group(tc.group)
			tenant := uuid.New()
			scope := tenantdbtest.Scope(t, tenant).WithJob("job-of-the-event")
			d := doc(tenant, "dup", "0A")
			d.Version = "sha256:dup"
			cs, es := batch(0, 1)

			// The tenant exists (an earlier document), so the second claim
			// waits on nothing before its read.
			if err := db.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO tenants (tenant_id) VALUES ($1)`, tenant)
				return err
			}); err != nil {
				t.Fatal(err)
			}

			type opened struct {
				claim pipeline.Claim
				p     pipeline.Pending
				err   error
			}
			secondOpen := make(chan opened, 1)
			go func() {
				c, p, err := second.For(scope).Open(ctx, d, "k")
				secondOpen <- opened{c, p, err}
			}()
			select {
			case <-gw.reached: // the second claim read no row and is about to write one
			case o := <-secondOpen:
				t.Fatalf("the second claim never wrote the document: %+v", o)
			case <-time.After(time.Minute):
				t.Fatal("the second claim did not reach its upsert")
			}

			// The first delivery claims, writes and flips meanwhile.
			claim, p, err := first.For(scope).Open(ctx, d, "k")
			if err != nil || claim != pipeline.ClaimProceed {
				t.Fatalf("first open: %v, %v", claim, err)
			}
			if err := p.Finish(ctx, cs, es, len(cs), "test-words"); err != nil {
				t.Fatalf("first flip: %v", err)
			}

			close(gw.resume)
			o := <-secondOpen
			if o.err != nil {
				t.Fatalf("second open: %v", o.err)
			}
			if o.claim != pipeline.ClaimDone {
				t.Errorf("the second delivery's claim answered %v over a document ready with its bytes, want ClaimDone", o.claim)
			}
			if o.claim == pipeline.ClaimProceed {
				// What the worker does next: the attempt writes what is not
				// stored yet, and the message is retried until one succeeds.
				err := finishUnstored(ctx, o.p, cs, es)
				for try := 0; err != nil && try < 3; try++ {
					var c pipeline.Claim
					var p pipeline.Pending
					if c, p, err = first.For(scope).Open(ctx, d, "k"); err == nil && c == pipeline.ClaimProceed {
						err = finishUnstored(ctx, p, cs, es)
					}
				}
			}
			if got := readState(t, db, scope, "dup"); got.status != "ready" || got.visible != 2 || got.stored != 2 || got.audits != 1 {
				t.Errorf("after both deliveries: %+v, want ready with 2 chunks and one audit row", got)
			}
		})
	}
}

// finishUnstored finishes p as the processor does: with the chunks an
// earlier attempt did not store.
func finishUnstored(ctx context.Context, p pipeline.Pending, cs []pipeline.Chunk, es []pipeline.Embedding) error {
	var tail []pipeline.Chunk
	var embs []pipeline.Embedding
	for i, c := range cs {
		if !p.Stored(c.Ordinal) {
			tail, embs = append(tail, c), append(embs, es[i])
		}
	}
	return p.Finish(ctx, tail, embs, len(cs), "test-words")
}
