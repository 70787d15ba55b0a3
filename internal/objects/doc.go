// Package objects is tenantry's one S3 reader: HeadObject (size, content
// type and the tenantry envelope in x-amz-meta-tenantry-envelope) and
// GetObject (the bytes, as a pipeline.Fetcher, or read whole with a size
// limit) and GetObjectTagging (tags, for document attributes), of the
// current version or a pinned one. It also names a document's metadata
// sidecar (SidecarSuffix). Classify is the one S3
// error classifier, for these reads and for the Step Functions tasks'
// intermediate writes: a missing object or version and a 403 are permanent,
// throttling is throttled, 5xx/timeouts are transient. No other package
// calls HeadObject, GetObject or GetObjectTagging (internal/binding TestOneGate).
//
// It never writes to S3 and never logs object contents.
package objects
