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
		c := NewChain(t)
		r := TenantReport{TenantID: t}
		err := src.ScanAudit(ctx, t, c.Add)
		if err == nil {
			seq, hash, herr := src.AuditHead(ctx, t)
			if herr != nil {
				return out, herr
			}
			err = c.Close(seq, hash)
		}
		var be *BrokenError
		switch {
		case err == nil:
			r.OK = true
		case errors.As(err, &be):
			r.Problem = be.Error()
		default:
			return out, err
		}
		r.Events = c.Len()
		out = append(out, r)
	}
	return out, nil
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
