// Package pgstore stores documents, chunks (pgvector) and audit rows for one
// verified tenant at a time, through tenantdb.WithTenant only. Every state
// change writes its audit row in the same transaction. Writes are idempotent:
// chunks are keyed on (tenant, document, version, ordinal) and a version that
// is already stored is never written twice.
//
// One API style: a Store is shared by every tenant and does nothing by
// itself; Store.For binds it to one verified Scope, and every operation
// (the pipeline's Claim, Commit, Fail, Delete and Precheck, and Document,
// Documents, Search, PurgeTenant, FailClaimed) is a method of that Scoped
// value. The pipeline needs a store bound to its tenant (pipeline.Store has
// no scope argument), so binding is the style every caller can use, and no
// operation can be reached without a Scope first.
//
// With Store.Group, the final writes of small documents of one tenant that
// are ready together share one transaction (group commit, one statement per
// step); a tenant's groups never mix tenants, each document keeps its own
// outcome, audit row and job, and a failed group is written again one
// document at a time.
//
// It never opens a transaction around network calls and never logs text.
package pgstore
