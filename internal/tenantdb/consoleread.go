package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ConsoleReader is the operator console's read-only view across tenants,
// as the owner role: document metadata through the view console_documents
// (policies owner_console_read, migration 0009), breaker states and parked
// counts (owner_read, migration 0006), provider usage, and the audit chains
// (owner_audit_read; it embeds an AuditReader, so it is an audit.Source).
// Every session is read-only (default_transaction_read_only, and every read
// in a READ ONLY transaction); it never reads chunks, so it cannot show
// document text. It is not the worker's gateway and writes nothing: the
// console's actions go through the gate and WithTenant.
type ConsoleReader struct {
	*AuditReader
}

// OpenConsoleReader connects as the owner role (ownerURL), read-only.
func OpenConsoleReader(ctx context.Context, ownerURL string) (*ConsoleReader, error) {
	if ownerURL == "" {
		return nil, errors.New("tenantdb: empty owner database URL")
	}
	pool, err := smallPool(ctx, ownerURL, true)
	if err != nil {
		return nil, err
	}
	return &ConsoleReader{AuditReader: &AuditReader{pool: pool}}, nil
}

// TenantDocuments summarises one tenant's documents.
type TenantDocuments struct {
	TenantID  uuid.UUID
	Documents int64
	ByStatus  map[string]int64 // processing, ready, failed
	Chunks    int64
	// FailuresByReason counts failed documents by their reason code.
	FailuresByReason map[string]int64
}

// DocumentMeta is one document's metadata (never its text).
type DocumentMeta struct {
	DocumentID string
	Version    string
	Status     string
	MediaType  string
	SizeBytes  int64
	Chunks     int
	Reason     string // the failure reason code, if any
	UpdatedAt  time.Time
}

func (r *ConsoleReader) readOnly(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := r.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("tenantdb: console read: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only
	return fn(tx)
}

// TenantDocuments summarises every tenant that has documents or an audit
// chain, ordered by tenant id.
func (r *ConsoleReader) TenantDocuments(ctx context.Context) ([]TenantDocuments, error) {
	by := map[uuid.UUID]*TenantDocuments{}
	get := func(id uuid.UUID) *TenantDocuments {
		if t := by[id]; t != nil {
			return t
		}
		t := &TenantDocuments{TenantID: id, ByStatus: map[string]int64{}, FailuresByReason: map[string]int64{}}
		by[id] = t
		return t
	}
	err := r.readOnly(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT tenant_id, status, error, count(*), coalesce(sum(chunk_count), 0)
			FROM console_documents GROUP BY tenant_id, status, error`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id             uuid.UUID
				status, reason string
				n, chunks      int64
			)
			if err := rows.Scan(&id, &status, &reason, &n, &chunks); err != nil {
				rows.Close()
				return err
			}
			t := get(id)
			t.Documents += n
			t.ByStatus[status] += n
			t.Chunks += chunks
			if status == "failed" {
				if reason == "" {
					reason = "unknown"
				}
				t.FailuresByReason[reason] += n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT tenant_id FROM audit_heads UNION SELECT tenant_id FROM tenants`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				return err
			}
			get(id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("tenantdb: console tenants: %w", err)
	}
	out := make([]TenantDocuments, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TenantID.String() < out[j].TenantID.String() })
	return out, nil
}

// Documents lists up to limit of tenant's documents, most recently updated
// first.
func (r *ConsoleReader) Documents(ctx context.Context, tenant uuid.UUID, limit int) ([]DocumentMeta, error) {
	var out []DocumentMeta
	err := r.readOnly(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT document_id, version, status, media_type, size_bytes, chunk_count, error, updated_at
			FROM console_documents WHERE tenant_id = $1 ORDER BY updated_at DESC, document_id LIMIT $2`, tenant, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d DocumentMeta
			if err := rows.Scan(&d.DocumentID, &d.Version, &d.Status, &d.MediaType, &d.SizeBytes, &d.Chunks, &d.Reason, &d.UpdatedAt); err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("tenantdb: console documents: %w", err)
	}
	return out, nil
}

// TenantBreaker is a tenant's circuit breaker as the console shows it: the
// state and why, and how many messages wait for release (never a message).
type TenantBreaker struct {
	State     string // closed, open, half_open ("closed" when the tenant has no breaker row)
	Manual    bool   // an operator's pause
	Reason    string
	ChangedAt time.Time
	Parked    int64 // parked messages waiting for release (refused ones excluded)
}

// Breakers reads the breakers of every tenant, or of tenant alone if it is
// not uuid.Nil (tables tenant_breakers and parked_messages, migration
// 0006; policy owner_read), in one read-only transaction: a tenant without
// a row is missing from the map (its breaker is closed).
func (r *ConsoleReader) Breakers(ctx context.Context, tenant uuid.UUID) (map[uuid.UUID]TenantBreaker, error) {
	return byTenant(ctx, r, "breakers", `SELECT coalesce(b.tenant_id, p.tenant_id), coalesce(b.state, 'closed'), coalesce(b.manual, false),
			coalesce(b.reason, ''), b.changed_at, coalesce(p.parked, 0)
		FROM (SELECT tenant_id, state, manual, reason, changed_at FROM tenant_breakers
			WHERE $1::uuid IS NULL OR tenant_id = $1) b
		FULL JOIN (SELECT tenant_id, count(*) AS parked FROM parked_messages
			WHERE refused = '' AND ($1::uuid IS NULL OR tenant_id = $1) GROUP BY tenant_id) p USING (tenant_id)`,
		[]any{nullUUID(tenant)}, func(rows Rows) (uuid.UUID, TenantBreaker, error) {
			var (
				id      uuid.UUID
				b       TenantBreaker
				changed *time.Time
			)
			err := rows.Scan(&id, &b.State, &b.Manual, &b.Reason, &changed, &b.Parked)
			if changed != nil {
				b.ChangedAt = *changed
			}
			return id, b, err
		})
}

// byTenant runs one read-only query whose rows scan into a value per
// tenant (the first column is the tenant id).
func byTenant[V any](ctx context.Context, r *ConsoleReader, what, sql string, args []any,
	scan func(Rows) (uuid.UUID, V, error)) (map[uuid.UUID]V, error) {
	out := map[uuid.UUID]V{}
	err := r.readOnly(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			id, v, err := scan(rows)
			if err != nil {
				return err
			}
			out[id] = v
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("tenantdb: console %s: %w", what, err)
	}
	return out, nil
}

// ProviderUsage is a tenant's embedding provider usage over a span.
type ProviderUsage struct {
	Requests  int64
	Tokens    int64 // the chunker's counts for chunks, estimated for other texts (queries)
	Throttled int64 // the provider's 429 (or overloaded) answers
}

// ProviderUsage sums every tenant's provider usage since (table
// provider_usage, migration 0012; policy owner_console_read).
func (r *ConsoleReader) ProviderUsage(ctx context.Context, since time.Time) (map[uuid.UUID]ProviderUsage, error) {
	return byTenant(ctx, r, "provider usage", `SELECT tenant_id, sum(requests)::bigint, sum(tokens)::bigint, sum(throttled)::bigint
		FROM provider_usage WHERE minute >= date_trunc('minute', $1::timestamptz) GROUP BY tenant_id`,
		[]any{since}, func(rows Rows) (uuid.UUID, ProviderUsage, error) {
			var (
				id uuid.UUID
				u  ProviderUsage
			)
			err := rows.Scan(&id, &u.Requests, &u.Tokens, &u.Throttled)
			return id, u, err
		})
}
