package service_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// `tenantry audit verify --record-as` appends each tenant's result to that
// tenant's chain (and only that tenant's), which still verifies; a role
// that cannot write (the auditor) gets its reports and an error, and
// leaves the chain as it was.
func TestAuditVerifyAndRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	a, b := uuid.New(), uuid.New()
	for _, tenant := range []uuid.UUID{a, b} {
		if err := gw.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
			_, err := tx.Audit(ctx, "document.ingested", "doc:d", "", `{}`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := service.AuditVerifyAndRecord(ctx, db.OwnerURL, []uuid.UUID{a}, ""); err == nil {
		t.Fatal("a verification recorded under no actor")
	}
	reps, err := service.AuditVerifyAndRecord(ctx, db.OwnerURL, []uuid.UUID{a}, "cli:ana")
	if err != nil || len(reps) != 1 || !reps[0].OK || reps[0].Events != 1 {
		t.Fatalf("verify and record: %+v %v", reps, err)
	}
	r, err := tenantdb.OpenAuditReader(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e, found, err := r.LastAuditEvent(ctx, a, tenantdb.ActionChainVerified)
	if err != nil || !found || e.Actor != "cli:ana" || e.Detail != `{"events":1,"ok":true,"problem":""}` {
		t.Fatalf("a's recorded verification: %+v %v %v", e, found, err)
	}
	if _, found, err := r.LastAuditEvent(ctx, b, tenantdb.ActionChainVerified); found || err != nil {
		t.Fatalf("b's chain got a's verification: %v %v", found, err)
	}
	after, err := service.AuditVerify(ctx, db.OwnerURL, []uuid.UUID{a, b})
	if err != nil || audit.Broken(after) || after[0].Events+after[1].Events != 3 {
		t.Fatalf("chains after recording: %+v %v", after, err)
	}

	reps, err = service.AuditVerifyAndRecord(ctx, db.AuditorURL, []uuid.UUID{b}, "cli:eve")
	if err == nil || len(reps) != 1 || !reps[0].OK {
		t.Fatalf("the auditor recorded a verification: %+v %v", reps, err)
	}
	if _, found, _ := r.LastAuditEvent(ctx, b, tenantdb.ActionChainVerified); found {
		t.Fatal("b's chain has a verification the auditor could not write")
	}
}
