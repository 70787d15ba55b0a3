package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Config configures Open.
type Config struct {
	// URL is the worker role's connection string (never the owner's).
	URL string
	// MaxConns bounds the pool (default 8).
	MaxConns int32
	// ConnectTimeout bounds each new connection (default 10s).
	ConnectTimeout time.Duration
	// Password, if set, supplies the password of every new connection
	// (instead of the URL's): RDS IAM authentication tokens live 15
	// minutes, so one is minted per connection (internal/dbauth).
	Password PasswordFunc
	Logger   *zap.Logger
}

// PasswordFunc returns the password for a new connection to host:port as
// user. Its error fails that connection attempt only.
type PasswordFunc func(ctx context.Context, host string, port uint16, user string) (string, error)

func (c Config) withDefaults() Config {
	if c.MaxConns == 0 {
		c.MaxConns = 8
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

func (c Config) validate() error {
	if c.URL == "" {
		return errors.New("tenantdb: empty database URL")
	}
	if c.MaxConns < 1 {
		return errors.New("tenantdb: MaxConns must be >= 1")
	}
	return nil
}

// DB is the tenant gateway: a pool that can only be used through WithTenant.
type DB struct {
	pool   *pgxpool.Pool
	logger *zap.Logger
}

// Open connects, registers the pgvector types on every connection and runs
// Preflight. The schema must be migrated first (pgvector's types must exist).
func Open(ctx context.Context, cfg Config) (*DB, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("tenantdb: parse URL: %w", errors.New("invalid connection string"))
	}
	pcfg.MaxConns = cfg.MaxConns
	pcfg.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	pcfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		return pgxvec.RegisterTypes(ctx, conn)
	}
	if cfg.Password != nil {
		pcfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			pw, err := cfg.Password(ctx, cc.Host, cc.Port, cc.User)
			if err != nil {
				return fmt.Errorf("tenantdb: connection password: %w", err)
			}
			cc.Password = pw
			return nil
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("tenantdb: %w", err)
	}
	db := &DB{pool: pool, logger: cfg.Logger}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("tenantdb: connect: %w", err)
	}
	if err := db.Preflight(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that the database answers (readiness probes).
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// WithTenant runs fn in a transaction scoped to scope's tenant. fn's error
// rolls the transaction back and is returned as is (wrapped errors stay
// matchable with errors.Is/As).
func (db *DB) WithTenant(ctx context.Context, scope Scope, fn func(ctx context.Context, tx Tx) error) error {
	return WithTenant(ctx, db.pool, scope, fn)
}

// tracerName is the instrumentation scope of the transaction spans.
const tracerName = "github.com/tenantry/tenantry/internal/tenantdb"

// Beginner is the smallest thing a tenant transaction can start from: a pool,
// a connection, or an open transaction (then a savepoint is used, which lets
// tests nest tenant transactions inside a rolled-back test transaction).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// WithTenant is DB.WithTenant for any Beginner.
func WithTenant(ctx context.Context, b Beginner, scope Scope, fn func(ctx context.Context, tx Tx) error) (err error) {
	if scope.IsZero() {
		return ErrNoScope
	}
	// One span per tenant transaction: the tenant and job ids only, never
	// SQL text or parameters (they carry tenant data).
	ctx, span := otel.Tracer(tracerName).Start(ctx, "tenantdb.tx", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("tenant_id", scope.tenant.String()),
			attribute.String("job_id", scope.jobID)))
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, "rolled back")
		}
		span.End()
	}()
	tx, err := b.Begin(ctx)
	if err != nil {
		return fmt.Errorf("tenantdb: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true),
		set_config('tenantry.actor', $2, true), set_config('tenantry.job_id', $3, true)`,
		scope.tenant.String(), scope.actor, scope.jobID); err != nil {
		return fmt.Errorf("tenantdb: set tenant scope: %w", err)
	}
	if err := fn(ctx, Tx{tx: tx, scope: scope}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("tenantdb: commit: %w", err)
	}
	return nil
}
