package tenantdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Support access (migration 0007). Grants are created, revoked and listed by
// the owner role (SupportAdmin); support staff read through the support role
// (SupportReader), whose only privilege is EXECUTE on the SECURITY DEFINER
// function tenantry_support_read: it checks the grant, appends a support.read
// event to the tenant's audit chain in the same transaction as the read, and
// records every refusal as a security event.

// Refusal reasons of tenantry_support_read (security_events.reason).
const (
	ReasonSupportNoGrant       = "support_no_grant"
	ReasonSupportWrongTenant   = "support_wrong_tenant"
	ReasonSupportWrongOperator = "support_wrong_operator"
	ReasonSupportRevoked       = "support_grant_revoked"
	ReasonSupportExpired       = "support_grant_expired"
	ReasonSupportBadRequest    = "support_bad_request"
)

// ErrSupportRefused is wrapped by every refused support read.
var ErrSupportRefused = errors.New("tenantdb: support read refused")

// SupportRefusedError is a refused support read; the refusal is recorded as
// a security event in the database.
type SupportRefusedError struct{ Reason string }

func (e *SupportRefusedError) Error() string { return ErrSupportRefused.Error() + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrSupportRefused) true.
func (e *SupportRefusedError) Unwrap() error { return ErrSupportRefused }

// SupportGrant is one support grant.
type SupportGrant struct {
	ID        uuid.UUID  `json:"grant_id"`
	TenantID  uuid.UUID  `json:"tenant_id"`
	Operator  string     `json:"operator"`
	Reason    string     `json:"reason"`
	GrantedBy string     `json:"granted_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Active reports whether the grant allows reads at now.
func (g SupportGrant) Active(now time.Time) bool {
	return g.RevokedAt == nil && now.Before(g.ExpiresAt)
}

// MaxSupportTTL is the longest grant the database accepts.
const MaxSupportTTL = 7 * 24 * time.Hour

// SupportAdmin is the owner role's side of support access: grant, revoke,
// list. Like AuditReader it is not the worker's gateway.
type SupportAdmin struct{ pool *pgxpool.Pool }

// OpenSupportAdmin connects as the owner role.
func OpenSupportAdmin(ctx context.Context, ownerURL string) (*SupportAdmin, error) {
	pool, err := smallPool(ctx, ownerURL, false)
	if err != nil {
		return nil, err
	}
	return &SupportAdmin{pool: pool}, nil
}

// Close closes the pool.
func (a *SupportAdmin) Close() { a.pool.Close() }

// Grant lets operator read tenant's data for ttl (at most MaxSupportTTL);
// the grant is audited (support.granted) in the tenant's chain. by names who
// granted it (recorded as the audit actor).
func (a *SupportAdmin) Grant(ctx context.Context, tenant uuid.UUID, operator, reason string, ttl time.Duration, by string) (SupportGrant, error) {
	if ttl <= 0 || ttl > MaxSupportTTL {
		return SupportGrant{}, fmt.Errorf("tenantdb: support grant ttl must be within 0..%s", MaxSupportTTL)
	}
	var g SupportGrant
	err := asOwner(ctx, a.pool, tenant, "operator:"+by, "", func(ctx context.Context, tx Tx) error {
		var id uuid.UUID
		if err := tx.QueryRow(ctx, "SELECT tenantry_support_grant($1, $2, make_interval(secs => $3))",
			operator, reason, ttl.Seconds()).Scan(&id); err != nil {
			return err
		}
		var err error
		g, err = scanGrant(tx.QueryRow(ctx, "SELECT "+grantColumns+" FROM support_grants WHERE grant_id = $1", id))
		return err
	})
	if err != nil {
		return SupportGrant{}, fmt.Errorf("tenantdb: support grant: %w", err)
	}
	return g, nil
}

// Revoke ends a grant of tenant now (audited as support.revoked). It
// reports false if the grant was unknown for that tenant or already revoked.
func (a *SupportAdmin) Revoke(ctx context.Context, tenant, grant uuid.UUID, by string) (bool, error) {
	var ok bool
	err := asOwner(ctx, a.pool, tenant, "operator:"+by, "", func(ctx context.Context, tx Tx) error {
		return tx.QueryRow(ctx, "SELECT tenantry_support_revoke($1)", grant).Scan(&ok)
	})
	if err != nil {
		return false, fmt.Errorf("tenantdb: support revoke: %w", err)
	}
	return ok, nil
}

// List returns the grants of tenant (every tenant if uuid.Nil), newest first.
func (a *SupportAdmin) List(ctx context.Context, tenant uuid.UUID) ([]SupportGrant, error) {
	rows, err := a.pool.Query(ctx, "SELECT "+grantColumns+` FROM support_grants
		WHERE $1::uuid IS NULL OR tenant_id = $1 ORDER BY created_at DESC, grant_id`, nullUUID(tenant))
	if err != nil {
		return nil, fmt.Errorf("tenantdb: support list: %w", err)
	}
	defer rows.Close()
	var out []SupportGrant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

const grantColumns = "grant_id, tenant_id, operator, reason, granted_by, created_at, expires_at, revoked_at"

func scanGrant(r pgx.Row) (SupportGrant, error) {
	var g SupportGrant
	err := r.Scan(&g.ID, &g.TenantID, &g.Operator, &g.Reason, &g.GrantedBy, &g.CreatedAt, &g.ExpiresAt, &g.RevokedAt)
	return g, err
}

func nullUUID(u uuid.UUID) any {
	if u == uuid.Nil {
		return nil
	}
	return u
}

// SupportReader is the support role's side: reads under a grant. It has no
// other way into the database (the role has no table privileges).
type SupportReader struct{ pool *pgxpool.Pool }

// OpenSupportReader connects as the support role (or a login in it) and
// runs Preflight: a role that could reach a table directly is refused.
func OpenSupportReader(ctx context.Context, supportURL string) (*SupportReader, error) {
	pool, err := smallPool(ctx, supportURL, false)
	if err != nil {
		return nil, err
	}
	r := &SupportReader{pool: pool}
	if err := r.Preflight(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return r, nil
}

// Close closes the pool.
func (r *SupportReader) Close() { r.pool.Close() }

// SupportRequest names what a support read asks for.
type SupportRequest struct {
	Tenant   uuid.UUID
	Grant    uuid.UUID
	Operator string
	// What is "documents" (metadata of the tenant's documents, at most 1000)
	// or "chunks" (the chunks of Document, at most 1000).
	What     string
	Document string
}

// Read performs one audited support read and returns its rows as JSON
// objects. A refusal is a *SupportRefusedError (and a security event).
func (r *SupportReader) Read(ctx context.Context, req SupportRequest) ([]json.RawMessage, error) {
	var raw []byte
	if err := r.pool.QueryRow(ctx, "SELECT tenantry_support_read($1, $2, $3, $4, $5)",
		req.Tenant, req.Grant, req.Operator, req.What, req.Document).Scan(&raw); err != nil {
		return nil, fmt.Errorf("tenantdb: support read: %w", err)
	}
	var res struct {
		OK      bool              `json:"ok"`
		Refused string            `json:"refused"`
		Rows    []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("tenantdb: support read: %w", err)
	}
	if !res.OK {
		return nil, &SupportRefusedError{Reason: res.Refused}
	}
	return res.Rows, nil
}

// Preflight checks that the connected (support) role can reach no table,
// view or sequence directly, can create nothing, is neither superuser nor
// BYPASSRLS, and that every SECURITY DEFINER function pins search_path with
// pg_temp last. OpenSupportReader runs it and refuses a role that fails.
func (r *SupportReader) Preflight(ctx context.Context) error {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("tenantdb: support preflight: %w", err)
	}
	defer conn.Release()
	pe, err := rolePreflight(ctx, conn.Conn())
	if err != nil {
		return fmt.Errorf("tenantdb: support preflight: %w", err)
	}
	reachable, err := queryStrings(ctx, conn.Conn(), `SELECT n.nspname || '.' || c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg_toast%'
		  AND (has_table_privilege(current_user, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
		       OR (c.relkind = 'S' AND has_sequence_privilege(current_user, c.oid, 'USAGE, SELECT, UPDATE')))
		ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("tenantdb: support preflight: %w", err)
	}
	for _, t := range reachable {
		pe.Problems = append(pe.Problems, fmt.Sprintf("role can reach %s directly", t))
	}
	creates, err := creatableProblems(ctx, conn.Conn())
	if err != nil {
		return fmt.Errorf("tenantdb: support preflight: %w", err)
	}
	pe.Problems = append(pe.Problems, creates...)
	definers, err := unpinnedDefiners(ctx, conn.Conn())
	if err != nil {
		return fmt.Errorf("tenantdb: support preflight: %w", err)
	}
	pe.Problems = append(pe.Problems, definers...)
	if len(pe.Problems) > 0 {
		return pe
	}
	return nil
}
