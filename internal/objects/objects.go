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

// Head fetches an object's metadata.
func (r *Reader) Head(ctx context.Context, bucket, key string) (Head, error) {
	out, err := r.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return Head{}, classify("head", err)
	}
	h := Head{Bucket: bucket, Key: key, Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType),
		ETag: strings.Trim(aws.ToString(out.ETag), `"`), VersionID: aws.ToString(out.VersionId), LastModified: aws.ToTime(out.LastModified)}
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

// Fetch implements pipeline.Fetcher for s3:// source URIs.
func (r *Reader) Fetch(ctx context.Context, doc pipeline.Document, limit int64) (io.ReadCloser, error) {
	bucket, key, err := ParseURI(doc.SourceURI)
	if err != nil {
		return nil, err
	}
	out, err := r.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, classify("get", err)
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
	out, err := r.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		err = classify("get", err)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("s3 get: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: object is larger than %d bytes", pipeline.ErrTooLarge, limit)
	}
	return b, nil
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

// classify maps S3 errors to permanent (not found, access denied) or
// transient (everything else: throttling, 5xx, network).
func classify(op string, err error) error {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return fmt.Errorf("s3 %s: %w", op, ErrNotFound)
		case http.StatusForbidden:
			return fmt.Errorf("s3 %s: %w: access denied", op, pipeline.ErrMalformed)
		}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound") {
		return fmt.Errorf("s3 %s: %w", op, ErrNotFound)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &pipeline.TransientError{Err: fmt.Errorf("s3 %s: %w", op, err)}
}
