// Package binding owns the rules that establish a message's tenant from a
// decoded event (internal/event): which envelope speaks for the event, and
// what that envelope must be bound to. The worker (internal/ingest) and the
// DLQ replay tool (internal/dlq) both call Resolver.Resolve, so the rules
// cannot drift between processing a message and replaying it:
//
//   - a job: the envelope must verify against the job's raw bytes (body
//     hash), sign exactly the job type's action, and name exactly the job's
//     object (under the tenant's key prefix) or document;
//   - an S3 ObjectCreated event: the bucket must be served, and the object's
//     x-amz-meta-tenantry-envelope (read with HeadObject) must verify, be
//     bound to bucket and key, and authorise ingest;
//   - an S3 ObjectRemoved event: the bucket must be served and S3 must
//     confirm the object is gone; then envelope.VerifyRemoval decides the
//     tenant from the key's prefix.
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
