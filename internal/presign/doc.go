// Package presign issues presigned S3 PUT URLs for tenant uploads and
// uploads through them.
//
// A presigned URL is for exactly {tenant_id}/{document_id}/{filename} in one
// bucket and signs (SigV4) the header x-amz-meta-tenantry-envelope holding a
// freshly signed envelope bound to that object, plus Content-Type and, when
// given, Content-Length: S3 itself refuses an upload whose envelope, key,
// type or size differs from what was signed, or that comes after expiry.
//
// It must never: build a key from unvalidated input (no "/", "..", control
// characters), let a caller choose the envelope or the tenant prefix
// separately, or log URLs, envelopes or file names (they carry credentials
// and tenant data).
package presign
