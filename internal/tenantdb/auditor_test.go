package tenantdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// The auditor role reads every tenant's chain (what audit verify, anchor
// and export need) and nothing else: no tenant data, no grants, no security
// events, no writes, no audit function, nothing to create.
func TestAuditorReadsChainsAndNothingElse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	a, b := uuid.New(), uuid.New()
	seedTenant(ctx, t, db, a, "doc-a")
	seedTenant(ctx, t, db, b, "doc-b")
	admin, err := tenantdb.OpenSupportAdmin(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, tn := range []uuid.UUID{a, b} {
		if _, err := admin.Grant(ctx, tn, "op", "chain events", time.Hour, "lead"); err != nil {
			t.Fatal(err)
		}
	}
	r, err := tenantdb.OpenAuditReader(ctx, db.AuditorURL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	reps, err := audit.VerifyAll(ctx, r, nil)
	if err != nil || len(reps) != 2 || audit.Broken(reps) {
		t.Fatalf("auditor verify: %+v %v", reps, err)
	}
	auditor := tenantdbtest.Conn(t, db.AuditorURL)
	for _, stmt := range []string{
		"SELECT * FROM public.documents LIMIT 1",
		"SELECT * FROM public.chunks LIMIT 1",
		"SELECT * FROM public.tenants LIMIT 1",
		"SELECT * FROM public.jobs LIMIT 1",
		"SELECT * FROM public.support_grants LIMIT 1",
		"SELECT * FROM public.security_events LIMIT 1",
		"UPDATE public.audit_events SET detail = 'x'",
		"DELETE FROM public.audit_events",
		"UPDATE public.audit_heads SET seq = 0",
		"INSERT INTO public.audit_heads VALUES (gen_random_uuid(), 0, '\\x00')",
		"SELECT public.tenantry_audit('x.y', 'r', '', '')",
		"SELECT public.tenantry_support_read(gen_random_uuid(), gen_random_uuid(), 'o', 'documents', '')",
		"CREATE TEMP TABLE probe (x int)",
		"CREATE TABLE public.probe (x int)",
	} {
		if _, err := auditor.Exec(ctx, stmt); tenantdb.SQLState(err) != "42501" {
			t.Errorf("auditor: %q: %v (want 42501)", stmt, err)
		}
	}
}
