package console

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/client"
	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Gateway is the tenant gateway operator events are written through
// (*tenantdb.DB, the worker role).
type Gateway interface {
	WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(ctx context.Context, tx tenantdb.Tx) error) error
}

// GateRecorder is the Recorder of a deployment: it signs a short-lived
// operator envelope (action "operate", the whole tenant, subject = the
// operator) with the console's own key, has the gate verify it
// (binding.Resolver.Operator: the only way to a Scope), and appends the
// event through tenantdb.WithTenant and the tenantry_audit function. The
// console never mints a scope and never writes as the owner.
type GateRecorder struct {
	Issuer  *envelope.Issuer  // the console's key; its issuer must be trusted by Gate
	Gate    *binding.Resolver // the worker's own trust
	Gateway Gateway           // the worker role
}

// Record implements Recorder.
func (g *GateRecorder) Record(ctx context.Context, tenant uuid.UUID, actor, action, detail string) error {
	if g == nil || g.Gateway == nil {
		return ErrUnavailable
	}
	scope, err := operatorScope(ctx, g.Issuer, g.Gate, tenant, actor)
	if err != nil {
		return err
	}
	return g.Gateway.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		_, err := tx.Audit(ctx, action, "tenant:"+tenant.String(), "", detail)
		return err
	})
}

// operatorScope signs a short-lived operator envelope for tenant as actor
// with the console's key and has the gate verify it: the only way the
// console reaches a tenant scope.
func operatorScope(ctx context.Context, iss *envelope.Issuer, gate *binding.Resolver, tenant uuid.UUID, actor string) (tenantdb.Scope, error) {
	if iss == nil || gate == nil {
		return tenantdb.Scope{}, ErrUnavailable
	}
	tok, err := iss.Sign(ctx, iss.Claims(tenant, actor, envelope.ActionOperate, binding.OperatorResource))
	if err != nil {
		return tenantdb.Scope{}, fmt.Errorf("console: sign operator envelope: %w", err)
	}
	v, err := gate.Operator(ctx, tok)
	if err != nil {
		return tenantdb.Scope{}, fmt.Errorf("console: operator envelope refused by the gate: %w", err)
	}
	if v.Scope.TenantID() != tenant {
		return tenantdb.Scope{}, errors.New("console: the gate scoped another tenant")
	}
	return v.Scope, nil
}

// Breaker is the per-tenant circuit breaker as a tenant's own verified
// scope drives it (*breaker.Breaker): each transition writes its audit
// event (the scope's actor, the reason) in the same transaction.
type Breaker interface {
	Pause(ctx context.Context, scope tenantdb.Scope, reason string) error
	Resume(ctx context.Context, scope tenantdb.Scope, reason string) error
}

// GateControl is the TenantControl of a deployment: a pause or resume
// reaches the tenant's breaker through an operator envelope the gate
// verified, as the signed-in operator.
type GateControl struct {
	Issuer  *envelope.Issuer
	Gate    *binding.Resolver
	Breaker Breaker
}

// Pause implements TenantControl.
func (g *GateControl) Pause(ctx context.Context, tenant uuid.UUID, actor, reason string) error {
	return g.transition(ctx, tenant, actor, reason, Breaker.Pause)
}

// Resume implements TenantControl.
func (g *GateControl) Resume(ctx context.Context, tenant uuid.UUID, actor, reason string) error {
	return g.transition(ctx, tenant, actor, reason, Breaker.Resume)
}

func (g *GateControl) transition(ctx context.Context, tenant uuid.UUID, actor, reason string,
	fn func(Breaker, context.Context, tenantdb.Scope, string) error) error {
	if g == nil || g.Breaker == nil {
		return ErrUnavailable
	}
	scope, err := operatorScope(ctx, g.Issuer, g.Gate, tenant, actor)
	if err != nil {
		return err
	}
	return fn(g.Breaker, ctx, scope, reason)
}

// JobReindexer sends signed reindex jobs to the worker's job queue through
// the producer SDK (client.Client.Reindex: the envelope binds the job's
// bytes): the existing reindex path, verified and audited by the worker
// like any producer's job.
type JobReindexer struct {
	// Client signs with the console's key and sends to the job queue
	// (client.Config.SQS and QueueURL).
	Client *client.Client
	// Reader lists a tenant's documents for a whole-tenant reindex.
	Reader Reader
	// Limit bounds a whole-tenant reindex (default 10000 documents).
	Limit int
}

// Reindex implements Reindexer.
func (j *JobReindexer) Reindex(ctx context.Context, tenant uuid.UUID, actor, _ string, ids []string) (int, error) {
	if j == nil || j.Client == nil {
		return 0, ErrUnavailable
	}
	if len(ids) == 0 {
		limit := j.Limit
		if limit == 0 {
			limit = 10000
		}
		docs, err := j.Reader.Documents(ctx, tenant, limit)
		if err != nil {
			return 0, err
		}
		for _, d := range docs {
			ids = append(ids, d.DocumentID)
		}
	}
	n := 0
	for _, id := range ids {
		if _, err := j.Client.Reindex(ctx, tenant, actor, id, ""); err != nil {
			return n, fmt.Errorf("console: reindex job: %w", err)
		}
		n++
	}
	return n, nil
}
