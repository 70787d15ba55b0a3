// Package demo runs tenantry's end-to-end demonstration on the local stack:
// it creates the bucket and queues, starts `tenantry worker` as a separate
// process, uploads a small corpus for two tenants through presigned URLs
// (S3 → event relay → SQS → worker), waits with a progress display, searches
// the same question as each tenant, verifies the audit chains, and shows a
// forged upload being refused. It stops the worker it started.
//
// It is a showcase and a smoke test, not a library: it must never be used
// against production resources.
package demo
