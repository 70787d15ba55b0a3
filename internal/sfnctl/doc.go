// Package sfnctl operates the pipeline state machine from outside: it
// starts executions for uploaded objects (Start), redrives failed Standard
// executions (Redrive) and replays failed Express executions from the
// failure records the Express definition writes to an SQS queue (Replay).
// cmd/tenantry's `sfn start|redrive|replay` are thin wrappers.
//
// Execution names are derived from the verified tenant, the document and
// the object version (ExecutionName), so Step Functions itself refuses a
// second Standard execution for the same upload. The tenant always comes
// from a verified envelope (the object's, or the one a failure record's
// input carries), never from a name, a key or a payload field; filters by
// tenant on executions started by EventBridge (random names) read the
// object key's tenant segment, which selects but never authorises: every
// redriven or replayed task verifies the envelope again.
//
// It must never: write to tenant tables, print envelopes or document text,
// redrive or replay without a filter match, or delete a failure record
// before its replay was accepted by Step Functions.
package sfnctl
