package outcome

// Code is one reason code of the vocabulary.
type Code struct {
	Code    string
	Class   string // rejected, permanent, transient, throttled, stale, ignored
	Source  string // the package that assigns it
	Meaning string
}

// Codes is every reason code tenantry assigns, on every transport: the
// tenantry-reason attribute of a dead-lettered message, the cause of a
// Step Functions task failure, a security event's reason, a metric label.
// docs/reasons.md is generated from it (go test ./internal/outcome -run
// TestReasonsDoc -update); a test checks that every code the packages
// define is here.
func Codes() []Code {
	return []Code{
		// The envelope's verdicts (internal/envelope): a security event each.
		{"malformed", "rejected", "envelope", "not a well-formed compact JWS with the expected claims"},
		{"too_large", "rejected", "envelope, event", "the envelope (or message) exceeds its size limit"},
		{"alg_not_allowed", "rejected", "envelope", "an algorithm outside the allowlist (none, HS256, ...)"},
		{"alg_mismatch", "rejected", "envelope", "the header's alg is not the key's"},
		{"unknown_key", "rejected", "envelope", "no trusted key has this kid"},
		{"bad_signature", "rejected", "envelope", "the signature does not verify"},
		{"expired", "rejected", "envelope", "past exp (with leeway)"},
		{"not_yet_valid", "rejected", "envelope", "before nbf (with leeway)"},
		{"lifetime_exceeded", "rejected", "envelope", "exp - iat longer than the maximum lifetime"},
		{"wrong_audience", "rejected", "envelope", "aud is not this deployment's"},
		{"wrong_issuer", "rejected", "envelope", "iss is not trusted"},
		{"bad_tenant", "rejected", "envelope", "tid is not a canonical, non-nil UUID"},
		{"bad_action", "rejected", "envelope", "act is not a known action"},
		{"wrong_action", "rejected", "envelope", "act is not the action asked for"},
		{"binding_mismatch", "rejected", "envelope", "the envelope is not bound to this object or job (resource, key prefix)"},
		{"body_hash_mismatch", "rejected", "envelope", "the job body is not the one the envelope signed"},
		{"noncanonical_key", "rejected", "envelope", "the object key is not canonical {tenant}/{doc}/{file} (judged before any envelope)"},
		// The gate (internal/binding).
		{"missing_envelope", "rejected", "binding", "the uploaded object has no x-amz-meta-tenantry-envelope"},
		{"envelope_mismatch", "rejected", "binding", "a Step Functions input carried an envelope that is not byte-identical to the object's"},
		{"unknown_bucket", "permanent", "binding", "an object of a bucket outside the allowlist"},
		// Search credentials (binding.Search, binding.OIDC): 401/403 and a security event.
		{"missing_credentials", "rejected", "binding", "a search request with neither a search envelope nor a bearer token"},
		{"ambiguous_credentials", "rejected", "binding", "a search request with both a search envelope and a bearer token"},
		{"oidc_not_configured", "rejected", "binding", "a bearer token, but no OIDC issuer is configured"},
		{"invalid_token", "rejected", "binding", "the bearer token was refused without a more specific reason"},
		{"missing_token", "rejected", "binding", "an empty bearer token"},
		{"foreign_issuer", "rejected", "binding", "the token's issuer is not the configured one"},
		{"wrong_token_use", "rejected", "binding", "token_use is not the required id or access"},
		{"no_tenant", "rejected", "binding", "the token has no canonical tenant id in the tenant claim"},
		// The search API's own answers (internal/searchapi).
		{"bad_request", "permanent", "searchapi", "the body is not a valid search request (400)"},
		{"bad_filter", "permanent", "searchapi", "the metadata filter does not parse (400)"},
		{"embed_failed", "transient", "searchapi", "the query could not be embedded (502)"},
		{"internal", "transient", "searchapi", "the search failed (500)"},
		{"database_unavailable", "transient", "searchapi", "/healthz: the database does not answer (503)"},
		{"bad_metadata", "permanent", "ingest", "the document's attributes (S3 tags, S3 metadata or metadata sidecar) are not valid"},
		{"object_unavailable", "stale, transient", "binding", "the object is gone (stale: nothing to do), or S3 could not be asked (retry)"},
		{"object_exists", "stale", "binding", "a removal event for an object that exists again"},
		{"keys_unavailable", "transient", "binding", "the verification keys could not be loaded: the envelope was not judged"},
		// Parked messages (internal/breaker): refused at release, kept for operators, never released.
		{"parked_tenant_mismatch", "rejected", "breaker", "a parked message verifies as another tenant than the one it is filed under (a security event)"},
		{"parked_unreadable", "rejected", "breaker", "a parked message no longer decodes to an event whose tenant can be established"},
		{"parked_object_gone", "stale", "breaker", "the object a parked upload names is gone (its removal event cleans up)"},
		// Work a transport retries itself instead of parking it (internal/breaker AdmitTask).
		{"breaker_open", "transient", "breaker", "a Step Functions task of a tenant whose breaker is open or paused (or half-open with its trial running): refused before any work, retried by the state machine (Tenantry.BreakerOpen)"},
		// Messages (internal/event).
		{"malformed_event", "permanent", "event", "the message is not an S3 notification or a job"},
		{"unsupported_event", "ignored", "event", "an event kind tenantry does not act on"},
		{"unsupported_job", "permanent", "event, ingest", "a job type tenantry does not know"},
		{"malformed_envelope", "rejected", "event", "a message's envelope is not even a compact JWS"},
		{"bad_key_encoding", "permanent", "event", "an S3 key that does not URL-decode to UTF-8"},
		{"s3_test_event", "ignored", "event", "S3's test notification"},
		{"unhandled_event_type", "ignored", "event", "an S3 event type tenantry does not act on"},
		// Documents (pipeline).
		{"unsupported_media_type", "permanent", "pipeline", "no extractor for the content type"},
		{"malformed_document", "permanent", "pipeline", "the extractor could not read the document"},
		{"document_too_large", "permanent", "pipeline", "bytes, pages or chunks over the limits"},
		{"empty_document", "permanent", "pipeline", "no text"},
		{"embedding_rejected", "permanent", "pipeline", "the embedding provider refused the input (4xx)"},
		{"source_changed", "permanent", "pipeline", "a reindex pinned to the stored version found other bytes: the object was written over since"},
		// S3 and the database (this package).
		{ReasonObjectNotFound, "permanent", "outcome", "the object (version) to read is gone"},
		{ReasonAccessDenied, "permanent", "outcome", "S3 refused the request (403)"},
		{ReasonRLSViolation, "permanent", "outcome", "the database refused a cross-tenant row (42501): a bug, never retried"},
		{ReasonThrottled, "throttled", "outcome", "a remote side asked to slow down (429, SlowDown, Retry-After)"},
		// Transports.
		{"bad_key_layout", "permanent", "(retired)", "no longer produced: a key that is not {tenant}/{document}/{filename} is refused as noncanonical_key before any envelope is read"},
		{"document_not_found", "permanent", "ingest", "a reindex of a document the tenant does not have"},
		{"malformed_task", "permanent", "sfntask", "a Step Functions task that does not decode"},
		{"bad_input", "permanent", "sfntask", "an execution input that does not decode"},
		{"intermediate_missing", "permanent", "sfntask", "an intermediate object is gone, of another version, or unreadable"},
		{"output_too_large", "permanent", "sfntask", "a task's output over Step Functions' 256 KB"},
		{"not_recorded", "transient", "sfntask", "a security event could not be recorded: the invocation is retried"},
		{"mixed_tenants", "rejected", "dlq", "one message holds events of several tenants"},
		// Support access (migration 0007, internal/tenantdb): a security event each, nothing read.
		{"support_no_grant", "rejected", "tenantdb", "a support read named no existing grant"},
		{"support_wrong_tenant", "rejected", "tenantdb", "a support read of one tenant under another tenant's grant"},
		{"support_wrong_operator", "rejected", "tenantdb", "a support read by another operator than the grant names"},
		{"support_grant_revoked", "rejected", "tenantdb", "a support read under a revoked grant"},
		{"support_grant_expired", "rejected", "tenantdb", "a support read after the grant expired"},
		{"support_bad_request", "rejected", "tenantdb", "a support read of an unknown kind, or chunks without a document"},
		// The runner (worker).
		{"permanent", "permanent", "worker", "a permanent failure with no reason of its own"},
		{"transient", "transient", "worker", "a failure worth retrying"},
		{"retry_after", "throttled", "worker", "retried after a delay with no reason of its own"},
		{"panic", "transient", "worker", "the handler panicked"},
		{"timeout", "transient", "worker", "the handler's deadline passed"},
		{"canceled", "transient", "worker", "the handler was cancelled (shutdown)"},
		{"max_receives", "permanent", "worker", "dead-lettered after the most receives"},
	}
}
