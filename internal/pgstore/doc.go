// Package pgstore stores documents, chunks (pgvector) and audit rows for one
// verified tenant at a time, through tenantdb.WithTenant only. Every state
// change writes its audit row in the same transaction. Writes are idempotent:
// chunks are keyed on (tenant, document, version, ordinal) and a version that
// is already stored is never written twice.
//
// It never opens a transaction around network calls and never logs text.
package pgstore
