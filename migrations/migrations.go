package migrations

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

//go:embed sql/*.sql
var files embed.FS

// lockKey is the pg_advisory_lock key that serialises concurrent migrators.
const lockKey int64 = 0x74656e616e747279 // "tenantry"

var roleName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ErrDimensionMismatch is returned when the database was migrated with another
// embedding dimension than the one configured.
var ErrDimensionMismatch = errors.New("migrations: embedding dimension differs from the migrated schema")

// Options configure a migration run.
type Options struct {
	// Dims is the embedding dimension of chunks.embedding (default 1024).
	Dims int
	// WorkerRole is the worker's login role (default tenantry_worker).
	WorkerRole string
	// WorkerPassword, if set, makes WorkerRole LOGIN with this password.
	WorkerPassword string
	// SupportRole is the support staff's role (default tenantry_support):
	// no table privileges, only the audited support read function.
	SupportRole string
	// SupportPassword, if set, makes SupportRole LOGIN with this password
	// (a deployment would rather create personal logins IN ROLE SupportRole).
	SupportPassword string
	// AuditorRole reads every tenant's audit chain and nothing else
	// (default tenantry_auditor): for audit verify, anchor and export.
	AuditorRole string
	// AuditorPassword, if set, makes AuditorRole LOGIN with this password.
	AuditorPassword string
	Logger          *zap.Logger
}

func (o Options) withDefaults() Options {
	if o.Dims == 0 {
		o.Dims = 1024
	}
	if o.WorkerRole == "" {
		o.WorkerRole = "tenantry_worker"
	}
	if o.SupportRole == "" {
		o.SupportRole = "tenantry_support"
	}
	if o.AuditorRole == "" {
		o.AuditorRole = "tenantry_auditor"
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

func (o Options) validate() error {
	if o.Dims < 1 || o.Dims > 16000 {
		return fmt.Errorf("migrations: dims %d out of range 1..16000", o.Dims)
	}
	if !roleName.MatchString(o.WorkerRole) {
		return fmt.Errorf("migrations: worker role %q is not a plain lower-case identifier", o.WorkerRole)
	}
	if !roleName.MatchString(o.SupportRole) || o.SupportRole == o.WorkerRole {
		return fmt.Errorf("migrations: support role %q is not a plain lower-case identifier distinct from the worker role", o.SupportRole)
	}
	if !roleName.MatchString(o.AuditorRole) || o.AuditorRole == o.WorkerRole || o.AuditorRole == o.SupportRole {
		return fmt.Errorf("migrations: auditor role %q is not a plain lower-case identifier distinct from the other roles", o.AuditorRole)
	}
	return nil
}

// Migration is one rendered schema step.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string
}

// Render returns the migrations rendered for opts, in order.
func Render(opts Options) ([]Migration, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	names, err := fs.Glob(files, "sql/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "sql/"), ".sql")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migrations: bad file name %s", n)
		}
		raw, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		tmpl, err := template.New(n).Option("missingkey=error").Parse(string(raw))
		if err != nil {
			return nil, fmt.Errorf("migrations: %s: %w", n, err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, opts); err != nil {
			return nil, fmt.Errorf("migrations: %s: %w", n, err)
		}
		sum := sha256.Sum256(buf.Bytes())
		out = append(out, Migration{Version: v, Name: base, SQL: buf.String(), Checksum: hex.EncodeToString(sum[:])})
	}
	return out, nil
}

// Up applies every migration not yet applied, connecting with url (the owner
// role). It is safe to run concurrently from several processes.
func Up(ctx context.Context, url string, opts Options) error {
	opts = opts.withDefaults()
	ms, err := Render(opts)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("migrations: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("migrations: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey) //nolint:errcheck // unlock on close anyway
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS tenantry_schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrations: ledger: %w", err)
	}
	applied := map[int]string{}
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM tenantry_schema_migrations")
	if err != nil {
		return fmt.Errorf("migrations: read ledger: %w", err)
	}
	for rows.Next() {
		var v int
		var c string
		if err := rows.Scan(&v, &c); err != nil {
			return err
		}
		applied[v] = c
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(applied) > 0 {
		if err := checkDims(ctx, conn, opts.Dims); err != nil {
			return err
		}
	}
	for _, m := range ms {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO tenantry_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
				m.Version, m.Name, m.Checksum)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrations: apply %s: %w", m.Name, err)
		}
		opts.Logger.Info("migration applied", zap.Int("version", m.Version), zap.String("name", m.Name))
	}
	for _, l := range []struct{ what, role, password string }{
		{"worker", opts.WorkerRole, opts.WorkerPassword},
		{"support", opts.SupportRole, opts.SupportPassword},
		{"auditor", opts.AuditorRole, opts.AuditorPassword},
	} {
		if l.password == "" {
			continue
		}
		if err := setLogin(ctx, conn, l.role, l.password); err != nil {
			return fmt.Errorf("migrations: set %s role login (needs CREATEROLE): %w", l.what, err)
		}
	}
	return nil
}

// setLogin makes role LOGIN with password; errors never carry the statement.
func setLogin(ctx context.Context, conn *pgx.Conn, role, password string) error {
	var stmt string
	if err := conn.QueryRow(ctx, "SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)",
		role, password).Scan(&stmt); err != nil {
		return errors.New(pgErrorCode(err))
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return errors.New(pgErrorCode(err))
	}
	return nil
}

// pgErrorCode keeps the statement (which holds a password) out of errors.
func pgErrorCode(err error) string {
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		return "SQLSTATE " + coded.SQLState()
	}
	return "failed"
}

func checkDims(ctx context.Context, conn *pgx.Conn, want int) error {
	var typ string
	err := conn.QueryRow(ctx, `SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
		WHERE a.attrelid = 'chunks'::regclass AND a.attname = 'embedding'`).Scan(&typ)
	if err != nil {
		return fmt.Errorf("migrations: read embedding type: %w", err)
	}
	if typ != fmt.Sprintf("vector(%d)", want) {
		return fmt.Errorf("%w: schema has %s, configured %d", ErrDimensionMismatch, typ, want)
	}
	return nil
}
