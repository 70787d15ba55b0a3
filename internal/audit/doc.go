// Package audit recomputes and verifies tenantry's per-tenant hash-chained
// audit log. Rows are written only by the database function tenantry_audit
// (see migrations), in the same transaction as the data they describe; this
// package holds the canonical hash in Go so that a verifier does not have to
// trust the database's own function, and reports the first broken link.
//
// It never writes audit rows and never holds document text.
package audit
