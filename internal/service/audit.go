package service

import (
	"context"
	"encoding/json"
	"io"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// AuditVerify recomputes the audit hash chains of tenants (every tenant
// with a chain when empty) as the owner role (ownerURL).
func AuditVerify(ctx context.Context, ownerURL string, tenants []uuid.UUID) ([]audit.TenantReport, error) {
	r, err := tenantdb.OpenAuditReader(ctx, ownerURL)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return audit.VerifyAll(ctx, r, tenants)
}

// AuditExport writes one tenant's audit events, in order, to w as JSON
// lines, as the owner role (ownerURL).
func AuditExport(ctx context.Context, ownerURL string, tenant uuid.UUID, w io.Writer) error {
	r, err := tenantdb.OpenAuditReader(ctx, ownerURL)
	if err != nil {
		return err
	}
	defer r.Close()
	enc := json.NewEncoder(w)
	return r.ScanAudit(ctx, tenant, func(e audit.Event) error { return enc.Encode(e) })
}
