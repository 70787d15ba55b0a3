package audit

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// Source reads stored audit chains (tenantdb.DB with the owner role).
type Source interface {
	AuditTenants(ctx context.Context) ([]uuid.UUID, error)
	AuditHead(ctx context.Context, tenant uuid.UUID) (int64, []byte, error)
	ScanAudit(ctx context.Context, tenant uuid.UUID, fn func(Event) error) error
}

// TenantReport is the verification result of one tenant's chain.
type TenantReport struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Events   int64     `json:"events"`
	OK       bool      `json:"ok"`
	Problem  string    `json:"problem,omitempty"`
}

// VerifyAll verifies the chains of tenants (every tenant with a chain if
// tenants is empty). It returns one report per tenant; the error is non-nil
// only when reading failed. Use Broken to see whether any chain is broken.
func VerifyAll(ctx context.Context, src Source, tenants []uuid.UUID) ([]TenantReport, error) {
	if len(tenants) == 0 {
		var err error
		if tenants, err = src.AuditTenants(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]TenantReport, 0, len(tenants))
	for _, t := range tenants {
		r, err := VerifyChain(ctx, src, t, nil)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// errScanned ends a scan at the first break when nobody watches the rows.
var errScanned = errors.New("audit: scan ended at the first break")

// VerifyChain verifies tenant's chain: every row in seq order, then the stored
// head. each, if not nil, sees every row read in seq order, also the rows
// after a break (a caller can show them); an error from each ends the scan
// and is returned. Without each the scan ends at the first break. The
// report's Events counts the rows verified before any break; the error is
// non-nil only when reading failed (or each failed).
func VerifyChain(ctx context.Context, src Source, tenant uuid.UUID, each func(Event) error) (TenantReport, error) {
	c := NewChain(tenant)
	r := TenantReport{TenantID: tenant}
	var broken error
	err := src.ScanAudit(ctx, tenant, func(e Event) error {
		if broken == nil {
			broken = c.Add(e)
		}
		if each != nil {
			return each(e)
		}
		if broken != nil {
			return errScanned
		}
		return nil
	})
	switch {
	case errors.Is(err, errScanned):
	case err != nil:
		return r, err
	case broken == nil:
		seq, hash, err := src.AuditHead(ctx, tenant)
		if err != nil {
			return r, err
		}
		broken = c.Close(seq, hash)
	}
	var be *BrokenError
	switch {
	case broken == nil:
		r.OK = true
	case errors.As(broken, &be):
		r.Problem = be.Error()
	default:
		return r, broken
	}
	r.Events = c.Len()
	return r, nil
}

// Broken reports whether any report shows a broken chain.
func Broken(reports []TenantReport) bool {
	for _, r := range reports {
		if !r.OK {
			return true
		}
	}
	return false
}
