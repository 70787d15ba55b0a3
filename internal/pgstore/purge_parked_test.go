package pgstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// A purge also drops the messages parked (or deferred) for the tenant that
// a release would put back (they would bring purged documents back), keeps
// the refused ones (never released, kept for operators), and touches no
// other tenant's parked messages.
func TestPurgeDropsTheTenantsParkedMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := tenantdbtest.TestTx(t)
	st := pgstore.New(gw, nil)
	a, b := uuid.New(), uuid.New()
	park := func(tenant uuid.UUID, id, refused string) {
		t.Helper()
		err := gw.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO parked_messages (tenant_id, message_id, body, reason, refused)
				VALUES (tenantry_current_tenant(), $1, '{}', 'breaker open', $2)`, id, refused)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	count := func(tenant uuid.UUID) (waiting, refused int) {
		t.Helper()
		err := gw.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE refused = ''), count(*) FILTER (WHERE refused <> '')
				FROM parked_messages`).Scan(&waiting, &refused)
		})
		if err != nil {
			t.Fatal(err)
		}
		return waiting, refused
	}
	park(a, "a1", "")
	park(a, "a2", "")
	park(a, "a3", "parked_tenant_mismatch")
	park(b, "b1", "")
	if _, err := st.For(tenantdbtest.Scope(t, a).WithJob("purge-a")).PurgeTenant(ctx); err != nil {
		t.Fatal(err)
	}
	if w, r := count(a); w != 0 || r != 1 {
		t.Errorf("tenant a after its purge: %d waiting, %d refused; want 0, 1", w, r)
	}
	if w, r := count(b); w != 1 || r != 0 {
		t.Errorf("another tenant's parked messages touched: %d waiting, %d refused", w, r)
	}
}
