// Package breaker owns each tenant's circuit breaker and its parked work:
// one tenant whose documents all fail (a broken integration, a poisoned file
// type, an expired key) cannot consume the workers, the provider quota and
// the DLQ of everybody else.
//
// The state lives in PostgreSQL (tenant_breakers, parked_messages, migration
// 0006), so every worker shares it: a breaker tripped or paused by one is
// open for all, from their next message on.
//
//   - Closed: messages run. Each verified outcome is recorded; the breaker
//     trips (opens) when, within Config.Window, the ratio of permanent
//     failures reaches Config.FailureRatio over at least Config.MinSamples
//     messages, or Config.ConsecutiveFailures permanent failures come in a
//     row. Only outcomes of messages whose tenant the gate verified count:
//     forged envelopes claiming a tenant cannot trip its breaker.
//   - Open (tripped, or paused by an operator): the tenant's verified
//     messages are parked — inserted into parked_messages under the
//     tenant's scope and committed before the SQS message is deleted —
//     never dropped and never dead-lettered for being parked. Work whose
//     transport retries it itself (Step Functions tasks, AdmitTask) is
//     refused instead (ErrOpen, reason breaker_open) and kept nowhere.
//   - Half-open (Config.OpenFor after an automatic trip): one trial runs
//     (a new message, or the oldest parked one); success closes the breaker
//     and releases the parked work in order at Config.ReleaseRate; failure
//     opens it again. An operator's pause has no automatic trial: it lasts
//     until resumed.
//
// Released work re-enters through the same path as any message: the
// Releaser re-verifies each parked message through the gate
// (internal/binding) and needs the scope that verification mints, for the
// parked row's tenant, to delete the row; the message then goes back into
// the queue and is verified again by the worker's handler. A parked row is
// never an authority: its tenant_id only says where it is filed. Carrying a
// scope from parking to release instead would mean minting a Scope from a
// database column (invariant 1 and 3), and would honour keys revoked and
// bindings broken while the work was parked. The price: an envelope that
// expires while parked is refused at release — kept, marked with its reason
// for operators (`tenantry tenant status`), never released.
//
// Admit, Guard and AdmitTask take one decision (decide): they differ only in
// what they do with a message that must not run (Guard keeps it, the others
// say so).
//
// Every transition (trip, pause, resume, close, release) is an audit event
// in the tenant's chain, with the actor and the reason, and a log line
// carrying tenant_id. The Prometheus metrics (Metrics) are per tenant: each
// series carries the tenant_id of a tenant the gate verified or an
// operator named.
//
// This package must never: derive a tenant from a parked row or a message
// attribute, drop a parked message, hold a transaction open across a queue
// call, or log message bodies.
package breaker
