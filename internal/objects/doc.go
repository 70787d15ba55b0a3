// Package objects reads uploaded documents from S3: HeadObject (size, content
// type and the tenantry envelope in x-amz-meta-tenantry-envelope) and
// GetObject (the bytes, as a pipeline.Fetcher). Errors are classified: a
// missing object is permanent, throttling/5xx/timeouts are transient.
//
// It never writes to S3 and never logs object contents.
package objects
