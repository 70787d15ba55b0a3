package console_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// The pages show every tenant's breaker (state, parked messages) from the
// owner role's read-only view: an overview load signs no operator envelope,
// whatever the number of tenants; only an operator's action does.
func TestBreakerStatesFromTheOwnerView(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op, csrf := operatorSession(t, e)
	act(t, e, op, csrf, e.acme, "pause", "maintenance")
	// A message of globex's, parked as the worker parks it.
	if err := e.gw.WithTenant(opCtx(t), tenantdbtest.Scope(t, e.globex), func(ctx context.Context, tx tenantdb.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO parked_messages (tenant_id, message_id, body) VALUES ($1, 'm-1', '{}')`, e.globex)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	signed := e.operatorSigner.n.Load()
	overview := page(t, op, e.URL+"/")
	if n := e.operatorSigner.n.Load() - signed; n != 0 {
		t.Fatalf("an overview load signed %d operator envelopes, want 0", n)
	}
	for _, tc := range []struct {
		name, tenant, breaker, parked string
	}{
		{"paused", e.acme.String(), "paused", "0"},
		{"parked", e.globex.String(), "closed", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			row := regexp.MustCompile(`(?s)<tr class="tenant" data-tenant="` + tc.tenant + `">.*?</tr>`).FindString(overview)
			m := regexp.MustCompile(`<td class="breaker">([^<]*)</td>\s*<td class="parked">([^<]*)</td>`).FindStringSubmatch(row)
			if m == nil || m[1] != tc.breaker || m[2] != tc.parked {
				t.Fatalf("breaker cells %q, want %s and %s parked, in:\n%s", m, tc.breaker, tc.parked, row)
			}
		})
	}
	signed = e.operatorSigner.n.Load()
	if got := page(t, op, e.URL+"/tenants/"+e.acme.String()); !regexp.MustCompile(`id="breaker">paused — maintenance<`).MatchString(got) {
		t.Errorf("tenant page breaker: %s", regexp.MustCompile(`id="breaker"[^\n]*`).FindString(got))
	}
	if n := e.operatorSigner.n.Load() - signed; n != 0 {
		t.Errorf("a tenant page load signed %d operator envelopes, want 0", n)
	}
}
