package tenantdb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// BenchmarkTenantTx measures what the tenant transaction costs: the same
// write through WithTenant as the worker role under forced RLS ("scoped"),
// and by the owner role in a plain transaction on the same table with RLS
// not forced ("owner", which then bypasses the policies, and loads chunks by
// plain COPY). The difference is set_config, the policy checks and, for
// chunks, Tx.CopyFrom's way round COPY's refusal of RLS tables: one multi-row
// INSERT for 16 chunks, four pipelined 64-row INSERTs for 256 (the worker
// may not create a temporary staging table). The database is a throwaway copy: NO FORCE on its tables, and
// the HNSW index dropped so the index's own cost (which grows with the
// table) does not drown the transaction's. make bench reports the ratio
// scoped/owner per write.
func BenchmarkTenantTx(b *testing.B) {
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(b)
	// The gateway first: its preflight rightly refuses tables without FORCE.
	gw := tenantdbtest.OpenURL(b, db.WorkerURL)
	owner := tenantdbtest.Conn(b, db.OwnerURL)
	for _, sql := range []string{
		"ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY",
		"ALTER TABLE documents NO FORCE ROW LEVEL SECURITY",
		"ALTER TABLE chunks NO FORCE ROW LEVEL SECURITY",
		"DROP INDEX chunks_embedding_hnsw",
	} {
		if _, err := owner.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	pcfg, err := pgxpool.ParseConfig(db.OwnerURL)
	if err != nil {
		b.Fatal(err)
	}
	pcfg.MaxConns = 8
	pcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error { return pgxvec.RegisterTypes(ctx, c) }
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)

	tenant := uuid.New()
	scope := tenantdbtest.Scope(b, tenant)
	if err := gw.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO tenants (tenant_id) VALUES ($1)", tenant)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	const insertDoc = `INSERT INTO documents (tenant_id, document_id, source_uri, version, status, size_bytes, media_type, filename)
		VALUES ($1, $2, $3, 'sha256:00', 'ready', 1024, 'text/plain', 'f.txt')`
	newDoc := func(path string) (string, string) {
		id := fmt.Sprintf("%s-%d", path, seq.Add(1))
		return id, "s3://bench/" + tenant.String() + "/" + id + "/f.txt"
	}
	rng := rand.New(rand.NewPCG(1, 2))
	vec := func() pgvector.Vector {
		v := make([]float32, tenantdbtest.Dims)
		for i := range v {
			v[i] = rng.Float32()
		}
		return pgvector.NewVector(v)
	}
	const maxChunks = 256
	vectors := make([]pgvector.Vector, maxChunks)
	for i := range vectors {
		vectors[i] = vec()
	}
	columns := []string{"tenant_id", "document_id", "version", "ordinal", "text", "token_count", "char_start",
		"char_end", "page", "embedding", "model", "content_hash"}
	chunkRows := func(doc string, n int) [][]any {
		rows := make([][]any, n)
		for i := range rows {
			rows[i] = []any{tenant, doc, "sha256:00", i, "chunk text of about the usual length", 8, i * 100, i*100 + 99, 0,
				vectors[i], "bench", "sha256:00"}
		}
		return rows
	}
	scoped := func(fn func(ctx context.Context, tx tenantdb.Tx) error) {
		if err := gw.WithTenant(ctx, scope, fn); err != nil {
			b.Fatal(err)
		}
	}
	plain := func(fn func(tx pgx.Tx) error) {
		if err := pgx.BeginFunc(ctx, pool, fn); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("document/scoped", func(b *testing.B) {
		for b.Loop() {
			id, uri := newDoc("ds")
			scoped(func(ctx context.Context, tx tenantdb.Tx) error {
				_, err := tx.Exec(ctx, insertDoc, tenant, id, uri)
				return err
			})
		}
	})
	b.Run("document/owner", func(b *testing.B) {
		for b.Loop() {
			id, uri := newDoc("do")
			plain(func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, insertDoc, tenant, id, uri)
				return err
			})
		}
	})
	// chunks16 takes CopyFrom's multi-row INSERT path, chunks256 its
	// staging table (more than tenantdb's insertMaxRows rows).
	for _, n := range []int{16, maxChunks} {
		b.Run(fmt.Sprintf("chunks%d/scoped", n), func(b *testing.B) {
			for b.Loop() {
				id, uri := newDoc("cs")
				scoped(func(ctx context.Context, tx tenantdb.Tx) error {
					if _, err := tx.Exec(ctx, insertDoc, tenant, id, uri); err != nil {
						return err
					}
					_, err := tx.CopyFrom(ctx, "chunks", columns, chunkRows(id, n))
					return err
				})
			}
		})
		b.Run(fmt.Sprintf("chunks%d/owner", n), func(b *testing.B) {
			for b.Loop() {
				id, uri := newDoc("co")
				plain(func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, insertDoc, tenant, id, uri); err != nil {
						return err
					}
					_, err := tx.CopyFrom(ctx, pgx.Identifier{"chunks"}, columns, pgx.CopyFromRows(chunkRows(id, n)))
					return err
				})
			}
		})
	}
}
