package console

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Reader is the console's read-only view of every tenant
// (*tenantdb.ConsoleReader): document metadata and the audit chains.
type Reader interface {
	TenantDocuments(ctx context.Context) ([]tenantdb.TenantDocuments, error)
	Documents(ctx context.Context, tenant uuid.UUID, limit int) ([]tenantdb.DocumentMeta, error)
	// LastAuditEvent is tenant's newest event with one of actions: the
	// console reads its last chain verification from the chain itself.
	LastAuditEvent(ctx context.Context, tenant uuid.UUID, actions ...string) (audit.Event, bool, error)
	// ProviderUsage sums every tenant's embedding provider usage since.
	ProviderUsage(ctx context.Context, since time.Time) (map[uuid.UUID]tenantdb.ProviderUsage, error)
	// Breakers reads every tenant's breaker (or tenant's alone) in one
	// read: the pages show breaker states without an operator envelope per
	// tenant.
	Breakers(ctx context.Context, tenant uuid.UUID) (map[uuid.UUID]tenantdb.TenantBreaker, error)
	audit.Source
}

var _ Reader = (*tenantdb.ConsoleReader)(nil)

// ControlStatus is a tenant's breaker state as the pages show it.
type ControlStatus struct {
	State  string // e.g. "closed", "open", "half_open", "paused"
	Reason string
	Parked int64 // messages parked while the breaker is open
	Since  time.Time
}

// controlStatus is b as the pages show it: an operator's pause is "paused"
// (no automatic trial), and a tenant without a breaker row is closed.
func controlStatus(b tenantdb.TenantBreaker) ControlStatus {
	state := b.State
	switch {
	case state == "":
		state = "closed"
	case b.Manual && state == "open":
		state = "paused"
	}
	return ControlStatus{State: state, Reason: b.Reason, Parked: b.Parked, Since: b.ChangedAt}
}

// TenantControl is an operator's pause and resume of the per-tenant
// breaker (the pages read its state through Reader). Pause and Resume
// record their own audit event in the tenant's chain (actor and reason), in
// the same transaction as the change.
type TenantControl interface {
	Pause(ctx context.Context, tenant uuid.UUID, actor, reason string) error
	Resume(ctx context.Context, tenant uuid.UUID, actor, reason string) error
}

// ErrUnavailable is the answer of a dependency this deployment does not
// have (no breaker, no DLQ configured, no signing key for operator actions).
var ErrUnavailable = errors.New("not available in this deployment")

// NoControl is the TenantControl of a build without the per-tenant
// breaker: every call answers ErrUnavailable (it never pretends to pause).
type NoControl struct{}

// Pause implements TenantControl.
func (NoControl) Pause(context.Context, uuid.UUID, string, string) error { return ErrUnavailable }

// Resume implements TenantControl.
func (NoControl) Resume(context.Context, uuid.UUID, string, string) error { return ErrUnavailable }

// Recorder appends one audit event to a tenant's chain, as actor, through
// the gate (an operator envelope) and tenantdb.WithTenant.
type Recorder interface {
	Record(ctx context.Context, tenant uuid.UUID, actor, action, detail string) error
}

// DeadLetters is a dead-letter queue the console inspects and replays
// (*Queue: the code of `tenantry dlq`).
type DeadLetters interface {
	Inspect(ctx context.Context) (*dlq.Report, error)
	// Replay replays (or, dryRun, lists) the messages f selects; every
	// replayed message is audited in its tenant's chain with actor and
	// reason.
	Replay(ctx context.Context, f dlq.Filter, actor, reason string, dryRun bool) ([]dlq.Result, dlq.Stats, error)
}

// Reindexer asks the worker to reindex documents of a tenant (every
// document when ids is empty) through the reindex job path; it returns how
// many jobs it sent.
type Reindexer interface {
	Reindex(ctx context.Context, tenant uuid.UUID, actor, reason string, ids []string) (int, error)
}

// DocumentExecutions lists a document's Step Functions executions
// (*Executions).
type DocumentExecutions interface {
	ForDocument(ctx context.Context, tenant uuid.UUID, document string) ([]Execution, error)
}

// Deps are what the console reads and acts through. Reader is required;
// a nil Control is NoControl; nil DLQ, Recorder, Reindexer or Executions
// make their views and actions answer ErrUnavailable.
type Deps struct {
	Reader     Reader
	Control    TenantControl
	Recorder   Recorder
	DLQ        DeadLetters
	Reindexer  Reindexer
	Executions DocumentExecutions
}
