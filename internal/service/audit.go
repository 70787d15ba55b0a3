package service

import (
	"context"
	"encoding/json"
	"errors"
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

// AuditVerifyAndRecord is AuditVerify that also appends each tenant's
// result to that tenant's own chain (tenantdb.ActionChainVerified) as actor,
// where the console shows it as the last verification. A verification
// that could not be recorded is an error (the reports are still returned).
func AuditVerifyAndRecord(ctx context.Context, ownerURL string, tenants []uuid.UUID, actor string) ([]audit.TenantReport, error) {
	if actor == "" {
		return nil, errors.New("service: a verification is recorded under an actor")
	}
	r, err := tenantdb.OpenAuditReader(ctx, ownerURL)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	reps, err := audit.VerifyAll(ctx, r, tenants)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, rep := range reps {
		errs = append(errs, r.RecordVerification(ctx, rep.TenantID, actor, rep.OK, rep.Events, rep.Problem))
	}
	return reps, errors.Join(errs...)
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
