package tenantdb

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// DueTenant is a tenant whose parked messages may be released now (see
// DB.BreakersDue): its breaker's state after the call, "closed" or
// "half_open".
type DueTenant struct {
	Tenant uuid.UUID
	State  string
}

// BreakersDue lists the tenants whose parked messages may be released now
// and takes (or renews) a release lease of the given length on each for
// owner, the caller's releaser id (the SECURITY DEFINER function tenantry_breaker_due, migration 0006). It
// runs outside any tenant scope and returns tenant ids and breaker states
// only, never a message.
func (db *DB) BreakersDue(ctx context.Context, lease time.Duration, owner string) ([]DueTenant, error) {
	rows, err := db.pool.Query(ctx, "SELECT tenant_id, state FROM tenantry_breaker_due(make_interval(secs => $1), $2)", lease.Seconds(), owner)
	if err != nil {
		return nil, fmt.Errorf("tenantdb: breakers due: %w", err)
	}
	defer rows.Close()
	var out []DueTenant
	for rows.Next() {
		var d DueTenant
		if err := rows.Scan(&d.Tenant, &d.State); err != nil {
			return nil, fmt.Errorf("tenantdb: breakers due: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ParkedMessage is a message parked for its tenant, as the worker once
// received it from the queue. Its bytes are outside input again: only the
// gate may say which tenant it speaks for.
type ParkedMessage struct {
	// Tenant is the tenant the row is filed under (not an authority).
	Tenant     uuid.UUID
	Seq        int64
	MessageID  string
	Body       string
	Attributes map[string]string
	// Reason is why it was parked (the breaker's reason, or "deferred").
	Reason string
}

// ParkedPeek returns the oldest parked messages of tenant (at most limit,
// at most 100), for the releaser that holds the tenant's release lease
// (tenantry_parked_peek, migration 0006). Deleting one needs the tenant's
// verified scope.
func (db *DB) ParkedPeek(ctx context.Context, tenant uuid.UUID, limit int) ([]ParkedMessage, error) {
	rows, err := db.pool.Query(ctx, "SELECT seq, message_id, body, attributes, reason FROM tenantry_parked_peek($1, $2)", tenant, limit)
	if err != nil {
		return nil, fmt.Errorf("tenantdb: parked messages: %w", err)
	}
	defer rows.Close()
	var out []ParkedMessage
	for rows.Next() {
		p := ParkedMessage{Tenant: tenant}
		if err := rows.Scan(&p.Seq, &p.MessageID, &p.Body, &p.Attributes, &p.Reason); err != nil {
			return nil, fmt.Errorf("tenantdb: parked messages: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ParkedRefuse marks a parked message the releaser could not verify as its
// tenant's, with a reason code (tenantry_parked_refuse): it is kept for
// operators and never released. It reports whether a row was marked.
func (db *DB) ParkedRefuse(ctx context.Context, tenant uuid.UUID, seq int64, reason string) (bool, error) {
	var ok bool
	if err := db.pool.QueryRow(ctx, "SELECT tenantry_parked_refuse($1, $2, $3)", tenant, seq, reason).Scan(&ok); err != nil {
		return false, fmt.Errorf("tenantdb: refuse parked message: %w", err)
	}
	return ok, nil
}
