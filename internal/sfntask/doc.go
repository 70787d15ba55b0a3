// Package sfntask is the worker side of tenantry's Step Functions pipeline
// (statemachine/pipeline.asl.json). Task states reach workers as SQS
// messages (the sqs:sendMessage.waitForTaskToken integration); Handler is
// the worker.Handler that consumes them: it decodes the task, establishes
// its tenant through the one gate (internal/binding: the object's signed
// envelope; the envelope the task carries must be identical to it; every
// task, every stage: a tenant id in the state or in the message is never
// trusted), runs the stage, and
// answers Step Functions with SendTaskSuccess or SendTaskFailure. OnHeartbeat
// (worker.Config.OnHeartbeat) sends SendTaskHeartbeat while a stage runs and
// stops the stage when Step Functions has given up on the task.
//
// After the gate, every task but markfailed asks its tenant's circuit
// breaker (internal/breaker, AdmitTask: the SQS worker's decision): a task
// of an open or paused tenant is refused with ErrorBreakerOpen before any
// work, and the state machine retries it; admitted tasks report their
// outcome, one verdict per document (admission.go).
//
// Stages: verify → extract → chunk → embed (one Map iteration per batch) →
// store → finalize, and markfailed on the Catch path. Each is idempotent,
// so a retried or redelivered task has one effect: intermediate data lives in
// S3 under intermediate/{tenant}/{document}/{execution}/ with deterministic
// keys (only pointers travel in the state), and the database is written only
// through pgstore's idempotent Claim/Commit/Fail.
//
// Failures are answered with the error names of errors.go (Tenantry.*);
// the state machine's Retry and Catch fields name exactly those, which
// statemachine's tests check. The cause sent with a failure is a small JSON
// object of stable codes (stage, reason): never document text, tokens or
// free-form error messages.
//
// It must never: derive a tenant from anything but a verified envelope,
// write to tenant tables before that verification, read or write
// intermediate objects outside the verified tenant's prefix, or answer a task
// it could not record a rejected envelope for (the message is redelivered
// instead).
package sfntask
