package anchor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/objects"
)

// Store holds anchor files.
type Store interface {
	// Prefix is the key prefix of every anchor ("anchors/").
	Prefix() string
	// Tenants lists the tenants that have anchors.
	Tenants(ctx context.Context) ([]uuid.UUID, error)
	// List returns the keys under tenant's prefix, sorted.
	List(ctx context.Context, tenant uuid.UUID) ([]string, error)
	// Read returns an anchor file (objects.ErrNotFound if it is gone).
	Read(ctx context.Context, key string) ([]byte, error)
	// Write stores a new anchor file under retention.
	Write(ctx context.Context, key string, body []byte) error
}

// MaxFileBytes bounds an anchor file read back.
const MaxFileBytes = 16 << 10

// WriteAPI is the part of *s3.Client S3Store uses besides the reader.
type WriteAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// S3Config configures an S3Store.
type S3Config struct {
	// Bucket holds the anchors; it must have Object Lock enabled when
	// Retention is set (S3 refuses retention on other buckets).
	Bucket string
	// Prefix of every anchor key; default "anchors/". Must end in "/".
	Prefix string
	// Mode is the Object Lock mode: "COMPLIANCE" (default; nobody, not
	// even the account root, can delete or shorten it) or "GOVERNANCE".
	Mode string
	// Retention is how long each anchor is locked; default 400 days.
	// Negative writes without Object Lock (only for servers without it).
	Retention time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultRetention keeps anchors locked a little over a year.
const DefaultRetention = 400 * 24 * time.Hour

func (c S3Config) withDefaults() S3Config {
	if c.Prefix == "" {
		c.Prefix = "anchors/"
	}
	if c.Mode == "" {
		c.Mode = string(types.ObjectLockModeCompliance)
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c S3Config) validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("anchor: bucket is required")
	case !strings.HasSuffix(c.Prefix, "/") || strings.HasPrefix(c.Prefix, "/"):
		return errors.New("anchor: prefix must end with / and not start with one")
	case c.Mode != string(types.ObjectLockModeCompliance) && c.Mode != string(types.ObjectLockModeGovernance):
		return fmt.Errorf("anchor: object lock mode %q is not COMPLIANCE or GOVERNANCE", c.Mode)
	}
	return nil
}

// ParseURI splits s3://bucket/prefix/ into bucket and prefix (default
// "anchors/" when the URI names only the bucket).
func ParseURI(uri string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", errors.New("anchor: location is not an s3:// URI")
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", errors.New("anchor: s3 URI without a bucket")
	}
	if prefix == "" {
		prefix = "anchors/"
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return bucket, prefix, nil
}

// S3Store keeps anchors in an S3 bucket with Object Lock.
type S3Store struct {
	api    WriteAPI
	reader *objects.Reader
	cfg    S3Config
}

// NewS3Store returns a store writing through api and reading through reader
// (the project's one S3 reader).
func NewS3Store(api WriteAPI, reader *objects.Reader, cfg S3Config) (*S3Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if api == nil || reader == nil {
		return nil, errors.New("anchor: S3 store needs a client and a reader")
	}
	return &S3Store{api: api, reader: reader, cfg: cfg}, nil
}

// Prefix implements Store.
func (s *S3Store) Prefix() string { return s.cfg.Prefix }

// Tenants implements Store: the tenant "directories" under the prefix.
func (s *S3Store) Tenants(ctx context.Context) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := s.list(ctx, s.cfg.Prefix, "/", func(p *s3.ListObjectsV2Output) {
		for _, cp := range p.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), s.cfg.Prefix), "/")
			if id, err := uuid.Parse(name); err == nil && id.String() == name {
				out = append(out, id)
			}
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, err
}

// List implements Store.
func (s *S3Store) List(ctx context.Context, tenant uuid.UUID) ([]string, error) {
	var out []string
	err := s.list(ctx, TenantPrefix(s.cfg.Prefix, tenant), "", func(p *s3.ListObjectsV2Output) {
		for _, o := range p.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	})
	sort.Strings(out)
	return out, err
}

func (s *S3Store) list(ctx context.Context, prefix, delimiter string, fn func(*s3.ListObjectsV2Output)) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(prefix)}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	for {
		out, err := s.api.ListObjectsV2(ctx, in)
		if err != nil {
			return objects.Classify("list", err)
		}
		fn(out)
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// Read implements Store.
func (s *S3Store) Read(ctx context.Context, key string) ([]byte, error) {
	return s.reader.Read(ctx, s.cfg.Bucket, key, "", MaxFileBytes)
}

// Write implements Store: a PUT with Object Lock retention (mode and
// retain-until date). The SDK adds the body checksum Object Lock requires.
func (s *S3Store) Write(ctx context.Context, key string, body []byte) error {
	in := &s3.PutObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/jose")}
	if s.cfg.Retention > 0 {
		until := s.cfg.Now().Add(s.cfg.Retention).UTC()
		in.ObjectLockMode = types.ObjectLockMode(s.cfg.Mode)
		in.ObjectLockRetainUntilDate = &until
	}
	if _, err := s.api.PutObject(ctx, in); err != nil {
		return objects.Classify("put", err)
	}
	return nil
}
