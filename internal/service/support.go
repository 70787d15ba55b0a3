package service

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/tenantdb"
)

// SupportGrant creates a time-bound support grant as the owner role
// (audited in the tenant's chain as support.granted).
func SupportGrant(ctx context.Context, ownerURL string, tenant uuid.UUID, operator, reason string, ttl time.Duration, by string) (tenantdb.SupportGrant, error) {
	a, err := tenantdb.OpenSupportAdmin(ctx, ownerURL)
	if err != nil {
		return tenantdb.SupportGrant{}, err
	}
	defer a.Close()
	return a.Grant(ctx, tenant, operator, reason, ttl, by)
}

// SupportRevoke revokes a grant as the owner role (audited).
func SupportRevoke(ctx context.Context, ownerURL string, tenant, grant uuid.UUID, by string) (bool, error) {
	a, err := tenantdb.OpenSupportAdmin(ctx, ownerURL)
	if err != nil {
		return false, err
	}
	defer a.Close()
	return a.Revoke(ctx, tenant, grant, by)
}

// SupportList lists grants (of tenant, or all if uuid.Nil) as the owner role.
func SupportList(ctx context.Context, ownerURL string, tenant uuid.UUID) ([]tenantdb.SupportGrant, error) {
	a, err := tenantdb.OpenSupportAdmin(ctx, ownerURL)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	return a.List(ctx, tenant)
}

// SupportRequest names one support read (tenant, grant, operator, what).
type SupportRequest = tenantdb.SupportRequest

// SupportRead performs one audited support read as the support role
// (supportURL); the role is checked first (it must reach no table directly).
func SupportRead(ctx context.Context, supportURL string, req SupportRequest) ([]json.RawMessage, error) {
	r, err := tenantdb.OpenSupportReader(ctx, supportURL)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Read(ctx, req)
}
