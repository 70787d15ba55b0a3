package tenantdb

import "github.com/jackc/pgx/v5/pgxpool"

// PoolForTest exposes the pool to this package's external tests only.
func PoolForTest(db *DB) *pgxpool.Pool { return db.pool }

// InsertMaxRows is the most rows Tx.CopyFrom loads with one INSERT; more go
// through the staging table.
const InsertMaxRows = insertMaxRows
