package tenantdb

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Scope is the verified tenant identity a unit of work runs as: the tenant,
// the actor that asked for the work, and the job (message, execution) id.
//
// A Scope can only be minted by MintVerified, which only internal/envelope
// (after it verified a signed envelope), internal/binding/oidc.go (after
// it verified an OIDC token against its issuer's keys) and the test helper
// package tenantdbtest may call; TestOnlyVerifiersMintScopes fails the build otherwise.
// The zero Scope is invalid and refused by WithTenant.
type Scope struct {
	tenant uuid.UUID
	actor  string
	jobID  string
}

// ErrNoScope is returned when a zero or invalid Scope reaches the gateway.
var ErrNoScope = errors.New("tenantdb: no verified tenant scope")

// maxLabel bounds actor and job id, which are written into session settings
// and audit rows.
const maxLabel = 256

// MintVerified mints a Scope. Call it only after verifying a signature that
// binds the tenant (internal/envelope does); see the Scope doc.
func MintVerified(tenant uuid.UUID, actor, jobID string) (Scope, error) {
	if tenant == uuid.Nil {
		return Scope{}, fmt.Errorf("%w: nil tenant id", ErrNoScope)
	}
	for _, s := range []string{actor, jobID} {
		if len(s) > maxLabel || !utf8.ValidString(s) {
			return Scope{}, fmt.Errorf("%w: actor or job id too long or not UTF-8", ErrNoScope)
		}
	}
	return Scope{tenant: tenant, actor: actor, jobID: jobID}, nil
}

// TenantID is the tenant the scope is bound to.
func (s Scope) TenantID() uuid.UUID { return s.tenant }

// Actor is who asked for the work (the envelope subject).
func (s Scope) Actor() string { return s.actor }

// JobID identifies the unit of work (message id, execution name).
func (s Scope) JobID() string { return s.jobID }

// IsZero reports whether s is the zero (unverified) Scope.
func (s Scope) IsZero() bool { return s.tenant == uuid.Nil }

// WithJob returns a copy of s for another job id of the same tenant and actor
// (e.g. a replay of a message under a new message id).
func (s Scope) WithJob(jobID string) Scope {
	if len(jobID) > maxLabel {
		jobID = jobID[:maxLabel]
	}
	s.jobID = jobID
	return s
}

// WithActor returns a copy of s for another actor of the same tenant and job
// (e.g. the operator who replays a dead-lettered message: the tenant still
// comes from the verified envelope, the audit row names who acted).
func (s Scope) WithActor(actor string) Scope {
	if len(actor) > maxLabel {
		actor = actor[:maxLabel]
	}
	s.actor = actor
	return s
}

// String never prints more than the tenant id, for logs.
func (s Scope) String() string { return "tenant:" + s.tenant.String() }
