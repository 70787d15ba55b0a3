// Package binding is the one gate: it owns the rules that establish a
// tenant from outside input — which envelope speaks for it, and what that
// envelope must be bound to. Every transport calls it, so the rules cannot
// drift: the SQS worker (internal/ingest) and the DLQ replay tool
// (internal/dlq) call Resolver.Resolve; every Step Functions task
// (internal/sfntask, over task tokens or the Lambda) and `sfn start|replay`
// (internal/sfnctl) call Resolver.Object, with the rules of an
// ObjectCreated event plus one: an envelope the execution input carries must
// be byte-identical to the object's; search (the CLI and the search API)
// calls Search.Resolve, which takes exactly one credential: a search
// envelope (Resolver.Search) or an OIDC/Cognito bearer token (OIDC.Verify,
// checked against the issuer's discovery document and JWKS); the operator
// console verifies its operators' ID tokens with OperatorTokens.Identify
// (an identity with groups, never a scope) and records every operator
// action under a short-lived operator envelope it signs itself, which
// Resolver.Operator verifies (action "operate", resource "doc:*") before
// the scope reaches the gateway. No other package calls a credential
// verification API (TestOneGate). The rules:
//
//   - a job: the envelope must verify against the job's raw bytes (body
//     hash), sign exactly the job type's action, and name exactly the job's
//     object (under the tenant's key prefix) or document;
//   - an S3 ObjectCreated event: the bucket must be served, and the object's
//     x-amz-meta-tenantry-envelope (read with HeadObject) must verify, be
//     bound to bucket and key, and authorise ingest;
//   - an S3 ObjectRemoved event: the bucket must be served and S3 must
//     confirm the object is gone; then envelope.VerifyRemoval decides the
//     tenant from the key's prefix;
//   - a bearer token: signature, exact issuer, expiry, audience (or Cognito's
//     client_id), token_use if required, and a canonical tenant id in the
//     configured claim.
//
// Every failure is an *Error whose Kind tells the caller what it means
// (rejected, not served, stale, unavailable, ignored) and whose Reason is a
// stable code; each caller maps it to its own outcome (the worker to a
// security event and a permanent or transient result, the DLQ tool to an
// unverified message).
//
// It must never derive a tenant from a payload field or a key path alone
// (removals only after S3 confirmed the object is gone), record anything,
// touch Postgres, or put tokens, claims or bodies into errors.
package binding
