// Package anchor anchors tenantry's per-tenant audit chains outside the
// database. An anchor is a signed statement "tenant T's chain had head (seq,
// hash) at time t", signed with the envelope key machinery (a local key or
// AWS KMS: envelope.PayloadSigner, payload type Type) and written to S3 under
// anchors/<tenant>/<seq>.jws with Object Lock retention. Each anchor names
// the previous anchor of its tenant (seq and SHA-256 of its bytes), so a
// missing anchor in the middle is detected; a missing newest anchor shows as
// a longer unanchored tail (Object Lock in COMPLIANCE mode is what prevents
// its deletion).
//
// Check verifies every chain against its anchors: a chain rewritten after an
// anchor, even with every hash recomputed consistently, no longer matches the
// anchored hash, and the report names the tenant and the first anchored seq
// that no longer matches. Bundle writes one tenant's events and anchors for
// an auditor to verify offline (docs/operations.md).
//
// It never reads tenant documents (anchors only, through internal/objects),
// never writes audit rows, and never holds document text.
package anchor
