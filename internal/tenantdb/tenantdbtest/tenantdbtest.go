// Package tenantdbtest gives tests real, isolated PostgreSQL databases and
// verified-looking Scopes. Each NewDatabase call creates a fresh database from
// a migrated template (one per schema checksum, built once under an advisory
// lock, shared by every test process) and drops it when the test ends. A
// test that needs no database of its own uses TestTx instead: a transaction
// on one shared database, rolled back when the test ends.
//
// It reads TENANTRY_ADMIN_DATABASE_URL (a superuser on the local stack, see
// deploy/local/stack.sh env) and skips the test when it is unset. It must
// never be imported by non-test code.
package tenantdbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/migrations"
)

const (
	ownerRole   = "tenantry_owner"
	workerRole  = "tenantry_worker"
	supportRole = "tenantry_support"
	auditorRole = "tenantry_auditor"
	lockKey     = 0x7465737464627300
)

// Database is one isolated test database.
type Database struct {
	Name       string
	OwnerURL   string // the owner role (migrations, tamper tests)
	WorkerURL  string // the worker role (what the product runs as)
	SupportURL string // the support role (audited support reads only)
	AuditorURL string // the auditor role (reads every audit chain, nothing else)
	AdminURL   string // superuser, database-level
}

// AdminURL returns the superuser URL or skips the test.
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TENANTRY_ADMIN_DATABASE_URL")
	if u == "" {
		t.Skip("TENANTRY_ADMIN_DATABASE_URL not set: run via `make test` (starts the local stack)")
	}
	return u
}

// Dims is the embedding dimension of test databases.
const Dims = 1024

// NewDatabase creates a fresh migrated database for the test.
func NewDatabase(t testing.TB) *Database {
	t.Helper()
	admin := AdminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmpl, err := ensureTemplate(ctx, admin)
	if err != nil {
		t.Fatalf("tenantdbtest: template: %v", err)
	}
	name := "tenantry_test_" + randHex(6)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("tenantdbtest: connect admin: %v", err)
	}
	defer conn.Close(ctx)
	if err := createFromTemplate(ctx, conn, name, tmpl); err != nil {
		t.Fatalf("tenantdbtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("tenantdbtest: cleanup connect: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("tenantdbtest: drop %s: %v", name, err)
		}
	})
	return &Database{
		Name:       name,
		OwnerURL:   withDB(roleURL(admin, ownerRole, ownerPassword()), name),
		WorkerURL:  withDB(roleURL(admin, workerRole, workerPassword()), name),
		SupportURL: withDB(roleURL(admin, supportRole, supportPassword()), name),
		AuditorURL: withDB(roleURL(admin, auditorRole, auditorPassword()), name),
		AdminURL:   withDB(admin, name),
	}
}

// Open opens the product's gateway on db as the worker role (preflight runs).
func (db *Database) Open(t testing.TB) *tenantdb.DB {
	t.Helper()
	return OpenURL(t, db.WorkerURL)
}

// OpenURL opens a gateway on url and closes it when the test ends.
func OpenURL(t testing.TB, u string) *tenantdb.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := tenantdb.Open(ctx, tenantdb.Config{URL: u, MaxConns: 8})
	if err != nil {
		t.Fatalf("tenantdbtest: open: %v", err)
	}
	t.Cleanup(g.Close)
	return g
}

// Conn opens a raw connection (for assertions and attacks) and closes it at cleanup.
func Conn(t testing.TB, u string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("tenantdbtest: connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// Scope mints a Scope for tests, as if an envelope for tenant had verified.
func Scope(t testing.TB, tenant uuid.UUID) tenantdb.Scope {
	t.Helper()
	s, err := tenantdb.MintVerified(tenant, "test-actor", "test-job-"+randHex(4))
	if err != nil {
		t.Fatalf("tenantdbtest: %v", err)
	}
	return s
}

// NewTenant returns a fresh tenant id.
func NewTenant() uuid.UUID { return uuid.New() }

func ensureTemplate(ctx context.Context, admin string) (string, error) {
	ms, err := migrations.Render(migrations.Options{Dims: Dims, WorkerRole: workerRole})
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range ms {
		h.Write([]byte(m.Checksum))
	}
	name := "tenantry_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12]
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(lockKey)); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(lockKey)) //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", building, ownerRole)); err != nil {
		return "", err
	}
	ac, err := pgx.Connect(ctx, withDB(admin, building))
	if err != nil {
		return "", err
	}
	_, err = ac.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS vector")
	ac.Close(ctx)
	if err != nil {
		return "", err
	}
	if err := migrations.Up(ctx, withDB(roleURL(admin, ownerRole, ownerPassword()), building),
		migrations.Options{Dims: Dims, WorkerRole: workerRole, WorkerPassword: workerPassword(),
			SupportRole: supportRole, SupportPassword: supportPassword(),
			AuditorRole: auditorRole, AuditorPassword: auditorPassword()}); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name)); err != nil {
		return "", err
	}
	return name, nil
}

// createFromTemplate creates database name from the migrated template tmpl,
// owned by the owner role, with the database ACL the migrations set.
func createFromTemplate(ctx context.Context, conn *pgx.Conn, name, tmpl string) error {
	var err error
	for i := 0; i < 50; i++ { // the template may be briefly busy (another CREATE DATABASE)
		_, err = conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s OWNER %s", name, tmpl, ownerRole))
		if err == nil || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	// A database's ACL is not copied from its template: repeat what
	// migration 0002 does on the database itself (no TEMP, no CREATE).
	if _, err := conn.Exec(ctx, fmt.Sprintf("REVOKE TEMPORARY, CREATE ON DATABASE %s FROM PUBLIC", name)); err != nil {
		return fmt.Errorf("revoke temp: %w", err)
	}
	return nil
}

func ownerPassword() string   { return envOr("TENANTRY_PG_OWNER_PASSWORD", "tenantry-owner-local") }
func workerPassword() string  { return envOr("TENANTRY_WORKER_DB_PASSWORD", "tenantry-worker-local") }
func supportPassword() string { return envOr("TENANTRY_SUPPORT_DB_PASSWORD", "tenantry-support-local") }
func auditorPassword() string { return envOr("TENANTRY_AUDITOR_DB_PASSWORD", "tenantry-auditor-local") }

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func roleURL(admin, role, password string) string {
	u, err := url.Parse(admin)
	if err != nil {
		return admin
	}
	u.User = url.UserPassword(role, password)
	return u.String()
}

func withDB(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + db
	return u.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewEmptyDatabase creates a fresh database owned by the owner role with only
// the vector extension: for tests of what migrations.Up itself does. It is
// dropped when the test ends.
func NewEmptyDatabase(t testing.TB) *Database {
	t.Helper()
	admin := AdminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "tenantry_test_" + randHex(6)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("tenantdbtest: connect admin: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", name, ownerRole)); err != nil {
		t.Fatalf("tenantdbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			t.Errorf("tenantdbtest: cleanup connect: %v", err)
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	ac, err := pgx.Connect(ctx, withDB(admin, name))
	if err != nil {
		t.Fatalf("tenantdbtest: connect: %v", err)
	}
	defer ac.Close(ctx)
	if _, err := ac.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS vector"); err != nil {
		t.Fatalf("tenantdbtest: vector: %v", err)
	}
	return &Database{
		Name:       name,
		OwnerURL:   withDB(roleURL(admin, ownerRole, ownerPassword()), name),
		WorkerURL:  withDB(roleURL(admin, workerRole, workerPassword()), name),
		SupportURL: withDB(roleURL(admin, supportRole, supportPassword()), name),
		AuditorURL: withDB(roleURL(admin, auditorRole, auditorPassword()), name),
		AdminURL:   withDB(admin, name),
	}
}
