package tenantdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantry/tenantry/internal/audit"
)

// AuditReader is the owner role's read-only view of every tenant's audit
// chain (policy owner_audit_read), for `tenantry audit` and the demo. It is
// not the worker's gateway: it has no WithTenant, runs no preflight (the
// owner is expected to fail it) and reads nothing but the audit tables. It
// implements audit.Source.
type AuditReader struct {
	pool *pgxpool.Pool
}

var _ audit.Source = (*AuditReader)(nil)

// OpenAuditReader connects as the owner role (ownerURL) with a small pool.
func OpenAuditReader(ctx context.Context, ownerURL string) (*AuditReader, error) {
	if ownerURL == "" {
		return nil, errors.New("tenantdb: empty owner database URL")
	}
	pool, err := smallPool(ctx, ownerURL, false)
	if err != nil {
		return nil, err
	}
	return &AuditReader{pool: pool}, nil
}

// Close closes the pool.
func (r *AuditReader) Close() { r.pool.Close() }

// AuditTenants lists the tenants that have an audit chain. Only the owner role
// can see all of them (policy owner_audit_read); for the worker role this
// fails for lack of tenant scope.
func (r *AuditReader) AuditTenants(ctx context.Context) ([]uuid.UUID, error) {
	rows, err := r.pool.Query(ctx, "SELECT tenant_id FROM audit_heads ORDER BY tenant_id")
	if err != nil {
		return nil, fmt.Errorf("tenantdb: audit tenants: %w", err)
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// AuditHead returns the stored head of tenant's chain (0, nil if none).
func (r *AuditReader) AuditHead(ctx context.Context, tenant uuid.UUID) (int64, []byte, error) {
	var (
		seq  int64
		hash []byte
	)
	err := r.pool.QueryRow(ctx, "SELECT seq, hash FROM audit_heads WHERE tenant_id = $1", tenant).Scan(&seq, &hash)
	if errors.Is(err, ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("tenantdb: audit head: %w", err)
	}
	return seq, hash, nil
}

const auditColumns = `tenant_id, seq, occurred_at, actor, job_id, action, resource, payload_hash, detail, prev_hash, hash`

// ScanAudit streams tenant's audit events in seq order (owner role: see
// AuditTenants).
func (r *AuditReader) ScanAudit(ctx context.Context, tenant uuid.UUID, fn func(audit.Event) error) error {
	rows, err := r.pool.Query(ctx, "SELECT "+auditColumns+" FROM audit_events WHERE tenant_id = $1 ORDER BY seq", tenant)
	if err != nil {
		return fmt.Errorf("tenantdb: scan audit: %w", err)
	}
	return scanAudit(rows, fn)
}

// ScanAuditScoped streams the scoped tenant's own audit events (worker role).
func ScanAuditScoped(ctx context.Context, tx Tx, fn func(audit.Event) error) error {
	rows, err := tx.Query(ctx, "SELECT "+auditColumns+" FROM audit_events ORDER BY seq")
	if err != nil {
		return fmt.Errorf("tenantdb: scan audit: %w", err)
	}
	return scanAudit(rows, fn)
}

func scanAudit(rows Rows, fn func(audit.Event) error) error {
	defer rows.Close()
	for rows.Next() {
		var e audit.Event
		if err := rows.Scan(&e.TenantID, &e.Seq, &e.OccurredAt, &e.Actor, &e.JobID, &e.Action, &e.Resource,
			&e.PayloadHash, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// LastAuditEvent returns tenant's newest audit event whose action is one of
// actions (false if there is none). The console reads the last chain
// verification this way: a verification is itself an event in the chain, so
// it survives a restart and is covered by the chain's hashes.
func (r *AuditReader) LastAuditEvent(ctx context.Context, tenant uuid.UUID, actions ...string) (audit.Event, bool, error) {
	rows, err := r.pool.Query(ctx, "SELECT "+auditColumns+
		" FROM audit_events WHERE tenant_id = $1 AND action = ANY($2) ORDER BY seq DESC LIMIT 1", tenant, actions)
	if err != nil {
		return audit.Event{}, false, fmt.Errorf("tenantdb: last audit event: %w", err)
	}
	var (
		last  audit.Event
		found bool
	)
	if err := scanAudit(rows, func(e audit.Event) error { last, found = e, true; return nil }); err != nil {
		return audit.Event{}, false, fmt.Errorf("tenantdb: last audit event: %w", err)
	}
	return last, found, nil
}

// ActionChainVerified is the audit action of a chain verification recorded
// by RecordVerification (`tenantry audit verify --record-as`).
const ActionChainVerified = "audit.verified"

// RecordVerification appends a verification's result to tenant's own chain
// (action ActionChainVerified, detail {"ok", "events", "problem"}: the shape
// the console reads back as the tenant's last verification), as actor, in a
// transaction scoped to tenant through the audit function. It needs a
// writable owner connection (OpenAuditReader; a ConsoleReader's read-only
// sessions refuse it).
func (r *AuditReader) RecordVerification(ctx context.Context, tenant uuid.UUID, actor string, ok bool, events int64, problem string) error {
	detail, err := json.Marshal(map[string]any{"ok": ok, "events": events, "problem": problem})
	if err != nil {
		return err
	}
	err = asOwner(ctx, r.pool, tenant, actor, "", func(ctx context.Context, tx Tx) error {
		_, err := tx.Audit(ctx, ActionChainVerified, "chain", "", string(detail))
		return err
	})
	if err != nil {
		return fmt.Errorf("tenantdb: record verification: %w", err)
	}
	return nil
}
