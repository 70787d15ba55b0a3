// Package client is tenantry's producer SDK: what a SaaS backend imports to
// hand work to tenantry from Go.
//
// It signs tenant envelopes (with a local ES256/EdDSA key or an AWS KMS
// key), presigns S3 uploads whose PUT URL signs the
// x-amz-meta-tenantry-envelope header (so the uploader cannot change it),
// and sends signed jobs (ingest, reindex, delete, purge_tenant) to the
// worker's SQS queue.
//
// It owns no rule of its own: signing is internal/envelope's, the
// canonical object-key rule is envelope.ParseObjectKey, presigning is
// internal/presign's. This package only gives them a stable public API, so
// the producer and the worker can never disagree about the format.
//
// It must never verify envelopes, mint tenant scopes, or open a database:
// producers sign, only the worker's gate verifies.
package client
