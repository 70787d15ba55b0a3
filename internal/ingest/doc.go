// Package ingest is the worker's message handler for documents — the tenant
// wrapper and the heart of the product. For every SQS message it decodes the
// event (S3 notification direct/SNS/EventBridge, or a signed job), finds the
// envelope (the uploaded object's x-amz-meta-tenantry-envelope via HeadObject,
// or the job's) and verifies it with its binding — both through
// internal/binding, the rules the DLQ replay tool applies too — and only with
// the verified tenantdb.Scope runs the pipeline against the tenant-scoped
// store.
//
// A rejected envelope never reaches the pipeline: it is recorded as a
// security event (no tenant table is written), counted, and the message goes
// to the DLQ with the reason code. It must never derive a tenant from a
// payload field or a key path alone, and never log document text.
package ingest
