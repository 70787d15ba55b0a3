package tenantdbtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Gateway is a tenant gateway over one test transaction (see TestTx). Each
// WithTenant is a savepoint of that transaction, run through
// tenantdb.WithTenant exactly as the product's gateway runs it.
type Gateway struct {
	tx pgx.Tx
}

// WithTenant runs fn in a tenant transaction (a savepoint) for scope.
func (g *Gateway) WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(ctx context.Context, tx tenantdb.Tx) error) error {
	return tenantdb.WithTenant(ctx, g.tx, scope, fn)
}

// TestTx begins a transaction as the worker role on a database shared by
// every TestTx of every test process, and rolls it back when the test ends:
// far cheaper than NewDatabase. Nothing it writes is ever committed, so
// other connections never see it.
//
// Use it only for tests that need no database of their own. A tenant setting
// (set_config(..., true)) made in a savepoint stays set until the outer
// transaction ends, so tests that assert "no tenant set" behaviour, preflight
// and role/grant tests, tests that need commits visible to other connections
// (workers, the audit reader, BulkLoad) and tests that run tenant
// transactions concurrently (one connection) need NewDatabase.
func TestTx(t testing.TB) *Gateway {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u, err := sharedWorkerURL(ctx, AdminURL(t))
	if err != nil {
		t.Fatalf("tenantdbtest: shared database: %v", err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("tenantdbtest: connect: %v", err)
	}
	if err := pgxvec.RegisterTypes(ctx, conn); err != nil {
		_ = conn.Close(ctx)
		t.Fatalf("tenantdbtest: register vector types: %v", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		_ = conn.Close(ctx)
		t.Fatalf("tenantdbtest: begin: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := tx.Rollback(ctx); err != nil {
			t.Errorf("tenantdbtest: rollback: %v", err)
		}
		_ = conn.Close(ctx)
	})
	return &Gateway{tx: tx}
}

var shared struct {
	sync.Mutex
	url string
}

// sharedWorkerURL returns the worker URL of the database TestTx runs in: one
// per schema checksum, made from the template once (under an advisory lock,
// shared by every test process) and kept, like the template. It stays empty:
// nothing is committed to it.
func sharedWorkerURL(ctx context.Context, admin string) (string, error) {
	shared.Lock()
	defer shared.Unlock()
	if shared.url != "" {
		return shared.url, nil
	}
	tmpl, err := ensureTemplate(ctx, admin)
	if err != nil {
		return "", err
	}
	name := "tenantry_testtx_" + tmpl[len("tenantry_tmpl_"):]
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(lockKey+1)); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(lockKey+1)) //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		// Build under another name and rename, so a half-made database is
		// never taken for the shared one.
		building := name + "_build"
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
			return "", err
		}
		if err := createFromTemplate(ctx, conn, building, tmpl); err != nil {
			return "", err
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name)); err != nil {
			return "", err
		}
	}
	shared.url = withDB(roleURL(admin, workerRole, workerPassword()), name)
	return shared.url, nil
}
