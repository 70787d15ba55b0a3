package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/tenantry/tenantry/pipeline"
)

// EnvelopeMetaKey is the user-metadata key (x-amz-meta-tenantry-envelope)
// that carries the signed envelope of an upload.
const EnvelopeMetaKey = "tenantry-envelope"

// API is the part of *s3.Client this package uses.
type API interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// SidecarSuffix names a document's metadata sidecar: the object "a.pdf" has
// its attributes in "a.pdf.metadata.json" (Bedrock Knowledge Bases' layout).
// A sidecar is never a document: the gate binds its events as its
// document's (binding.Resolver).
const SidecarSuffix = ".metadata.json"

// IsSidecar reports whether key names a metadata sidecar (not a document).
func IsSidecar(key string) bool { return strings.HasSuffix(key, SidecarSuffix) }

// TagAPI is the tagging read of *s3.Client. An API that does not implement
// it has no tags to offer (Tags returns none).
type TagAPI interface {
	GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, opts ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error)
}

// MaxTags is the most tags S3 allows on an object; more are refused.
const MaxTags = 10

// ErrNotFound: the object (or that version of it) does not exist. Permanent
// for an ingest (the object was deleted after the event was sent).
var ErrNotFound = errors.New("object not found")

// Head is what HeadObject tells about an object.
type Head struct {
	Bucket, Key  string
	Size         int64
	ContentType  string
	ETag         string
	VersionID    string
	LastModified time.Time
	Envelope     string // the signed envelope, "" if absent
	// Metadata is the rest of the user metadata (x-amz-meta-*), keys lower
	// case: document attributes for search (internal/retrieval).
	Metadata map[string]string
}

// Reader reads objects.
type Reader struct {
	api API
}

// New returns a Reader over api.
func New(api API) *Reader { return &Reader{api: api} }

// Head fetches an object's metadata (its current version).
func (r *Reader) Head(ctx context.Context, bucket, key string) (Head, error) {
	return r.HeadVersion(ctx, bucket, key, "")
}

// HeadVersion fetches the metadata of one version of an object (versionID
// "": the current one).
func (r *Reader) HeadVersion(ctx context.Context, bucket, key, versionID string) (Head, error) {
	out, err := r.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: optional(versionID)})
	if err != nil {
		return Head{}, Classify("head", err)
	}
	h := Head{Bucket: bucket, Key: key, Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType),
		ETag: strings.Trim(aws.ToString(out.ETag), `"`), VersionID: aws.ToString(out.VersionId), LastModified: aws.ToTime(out.LastModified)}
	if h.VersionID == "null" {
		h.VersionID = ""
	}
	for k, v := range out.Metadata {
		if strings.EqualFold(k, EnvelopeMetaKey) {
			h.Envelope = v
			continue
		}
		if h.Metadata == nil {
			h.Metadata = map[string]string{}
		}
		h.Metadata[strings.ToLower(k)] = v
	}
	return h, nil
}

// Tags reads the tags of one version of an object (versionID "": the
// current one), keys as S3 gives them. A missing object or version wraps
// ErrNotFound; an API without tagging, or a server that does not implement
// it (501 NotImplemented), gives no tags.
func (r *Reader) Tags(ctx context.Context, bucket, key, versionID string) (map[string]string, error) {
	api, ok := r.api.(TagAPI)
	if !ok {
		return nil, nil
	}
	out, err := api.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: optional(versionID)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NotImplemented" {
			return nil, nil
		}
		return nil, Classify("get tagging", err)
	}
	if len(out.TagSet) > MaxTags {
		return nil, fmt.Errorf("%w: object has %d tags, S3 allows %d", pipeline.ErrMalformed, len(out.TagSet), MaxTags)
	}
	var tags map[string]string
	for _, t := range out.TagSet {
		if tags == nil {
			tags = make(map[string]string, len(out.TagSet))
		}
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// Fetch implements pipeline.Fetcher for s3:// source URIs.
func (r *Reader) Fetch(ctx context.Context, doc pipeline.Document, limit int64) (io.ReadCloser, error) {
	bucket, key, err := ParseURI(doc.SourceURI)
	if err != nil {
		return nil, err
	}
	return r.Open(ctx, bucket, key, "", limit)
}

// Open starts reading one version of an object (versionID "": the current
// one). An object announced larger than limit is refused with
// pipeline.ErrTooLarge; the caller must still read at most limit+1 bytes.
func (r *Reader) Open(ctx context.Context, bucket, key, versionID string, limit int64) (io.ReadCloser, error) {
	out, err := r.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: optional(versionID)})
	if err != nil {
		return nil, Classify("get", err)
	}
	if out.ContentLength != nil && *out.ContentLength > limit {
		out.Body.Close()
		return nil, fmt.Errorf("%w: object is %d bytes, limit %d", pipeline.ErrTooLarge, *out.ContentLength, limit)
	}
	return out.Body, nil
}

// ReadSmall reads a whole small object (a metadata sidecar): nil, nil when
// it does not exist; an error wrapping pipeline.ErrTooLarge above limit bytes.
func (r *Reader) ReadSmall(ctx context.Context, bucket, key string, limit int64) ([]byte, error) {
	b, err := r.Read(ctx, bucket, key, "", limit)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return b, err
}

// Read reads one version of an object whole, at most limit bytes (more is
// pipeline.ErrTooLarge).
func (r *Reader) Read(ctx context.Context, bucket, key, versionID string, limit int64) ([]byte, error) {
	rc, err := r.Open(ctx, bucket, key, versionID, limit)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, &pipeline.TransientError{Err: fmt.Errorf("s3 read: %w", err)}
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%w: object larger than %d bytes", pipeline.ErrTooLarge, limit)
	}
	return raw, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// URI formats s3://bucket/key.
func URI(bucket, key string) string { return "s3://" + bucket + "/" + key }

// ParseURI splits s3://bucket/key.
func ParseURI(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%w: not an s3:// URI", pipeline.ErrMalformed)
	}
	bucket, key, ok = strings.Cut(rest, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", fmt.Errorf("%w: s3 URI without bucket or key", pipeline.ErrMalformed)
	}
	return bucket, key, nil
}

// ErrAccessDenied: S3 refused the request (403). Permanent: the same
// request will be refused again until someone changes a policy.
var ErrAccessDenied = errors.New("access denied")

// slowDownRetry is the delay asked for when S3 says slow down without a
// Retry-After (503 SlowDown, 429).
const slowDownRetry = time.Second

// Classify is the one classifier of S3 errors, for reads and for the
// intermediate writes of Step Functions tasks alike: a missing object or
// version wraps ErrNotFound, a 403 wraps ErrAccessDenied (both permanent),
// throttling is a *pipeline.TransientError with a RetryAfter, a cancelled
// context is returned as is, and anything else (5xx, network) is a plain
// *pipeline.TransientError.
func Classify(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return fmt.Errorf("s3 %s: %w", op, ErrNotFound)
		case http.StatusForbidden:
			return fmt.Errorf("s3 %s: %w", op, ErrAccessDenied)
		case http.StatusTooManyRequests:
			return &pipeline.TransientError{Err: fmt.Errorf("s3 %s: slow down", op), RetryAfter: slowDownRetry}
		}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchVersion":
			return fmt.Errorf("s3 %s: %w", op, ErrNotFound)
		case "SlowDown":
			return &pipeline.TransientError{Err: fmt.Errorf("s3 %s: slow down", op), RetryAfter: slowDownRetry}
		}
	}
	return &pipeline.TransientError{Err: fmt.Errorf("s3 %s: %w", op, err)}
}
