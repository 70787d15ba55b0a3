package tenantdbtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
)

// BulkLoad copies rows into table of db as the superuser (which bypasses row
// level security, so COPY is allowed): for benchmarks and search tests that
// need many rows fast, never for testing the product's write path. Drop the
// HNSW index first (DropHNSW) and build it once after the load (RebuildHNSW):
// that is ~100x faster than inserting into it.
func (db *Database) BulkLoad(t testing.TB, table string, columns []string, rows [][]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c := Conn(t, db.AdminURL)
	if err := pgxvec.RegisterTypes(ctx, c); err != nil {
		t.Fatalf("tenantdbtest: register vector types: %v", err)
	}
	if _, err := c.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows)); err != nil {
		t.Fatalf("tenantdbtest: copy %d rows into %s: %v", len(rows), table, err)
	}
}

// RebuildHNSW drops the chunks HNSW index (if present) and builds it again
// with the given build parameters (0: pgvector's defaults), then analyses
// every table. Call it after BulkLoad.
func (db *Database) RebuildHNSW(t testing.TB, m, efConstruction int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c := Conn(t, db.AdminURL)
	with := ""
	switch {
	case m > 0 && efConstruction > 0:
		with = fmt.Sprintf(" WITH (m = %d, ef_construction = %d)", m, efConstruction)
	case m > 0:
		with = fmt.Sprintf(" WITH (m = %d)", m)
	case efConstruction > 0:
		with = fmt.Sprintf(" WITH (ef_construction = %d)", efConstruction)
	}
	for _, q := range []string{
		"SET maintenance_work_mem = '2GB'",
		"SET max_parallel_maintenance_workers = 1",
		"DROP INDEX IF EXISTS chunks_embedding_hnsw",
		"CREATE INDEX chunks_embedding_hnsw ON chunks USING hnsw (embedding vector_cosine_ops)" + with,
		"ANALYZE",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("tenantdbtest: %s: %v", q, err)
		}
	}
}

// DropHNSW drops the chunks HNSW index (before a BulkLoad of many rows).
func (db *Database) DropHNSW(t testing.TB) {
	t.Helper()
	c := Conn(t, db.AdminURL)
	if _, err := c.Exec(context.Background(), "DROP INDEX IF EXISTS chunks_embedding_hnsw"); err != nil {
		t.Fatalf("tenantdbtest: drop hnsw: %v", err)
	}
}
