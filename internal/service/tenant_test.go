package service_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/internal/tenantlimits"
)

// What `tenantry tenant pause|resume|status|limits` calls: the owner role
// acts on the tenant it names; the worker role's credentials are refused.
func TestTenantAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	if _, err := service.OpenTenantAdmin(ctx, db.WorkerURL, nil); !errors.Is(err, tenantdb.ErrNotOwner) {
		t.Fatalf("the worker role opened the operators' connection: %v", err)
	}
	adm, err := service.OpenTenantAdmin(ctx, db.OwnerURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	a, b := uuid.New(), uuid.New()
	if err := adm.Breakers.Pause(ctx, a, "erin", "incident 42"); err != nil {
		t.Fatal(err)
	}
	if err := adm.Limits.Set(ctx, b, "erin", tenantlimits.Limits{Weight: 4, MaxConcurrency: 3}); err != nil {
		t.Fatal(err)
	}
	all, err := adm.TenantStatuses(ctx, nil)
	if err != nil || len(all) != 1 || all[0].Tenant != a.String() || all[0].State != breaker.Open || all[0].Reason != "incident 42" {
		t.Fatalf("statuses: %+v %v", all, err)
	}
	one, err := adm.TenantStatuses(ctx, []uuid.UUID{b})
	if err != nil || len(one) != 1 || one[0].State != breaker.Closed {
		t.Errorf("b's status: %+v %v", one, err)
	}
	if l, err := adm.Limits.Get(ctx, b); err != nil || l.Weight != 4 || l.MaxConcurrency != 3 {
		t.Errorf("b's limits: %+v %v", l, err)
	}
	if err := adm.Breakers.Resume(ctx, a, "erin", "resolved"); err != nil {
		t.Fatal(err)
	}
	if st, _ := adm.Breakers.Status(ctx, a); st.State != breaker.Closed || st.Actor != "operator:erin" {
		t.Errorf("after resume: %+v", st)
	}
}
