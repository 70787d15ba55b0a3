package presign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/envelope"
)

// PutObjectPresigner is the part of *s3.PresignClient this package calls.
type PutObjectPresigner interface {
	PresignPutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// ObjectIssuer signs ingest envelopes bound to one object; *envelope.Issuer
// is one.
type ObjectIssuer interface {
	Object(ctx context.Context, tenant uuid.UUID, actor, bucket, key string) (string, envelope.Claims, error)
}

// Config configures a Presigner.
type Config struct {
	// Bucket receives the uploads (required).
	Bucket string
	// Expires is the URL lifetime. Default 15m; 1s to 7 days (S3's limit).
	Expires time.Duration
	// MaxBytes refuses requests with a larger ContentLength. Default 5 GiB
	// (S3's single PUT limit).
	MaxBytes int64
	// DefaultContentType applies when a request has none. Default
	// application/octet-stream.
	DefaultContentType string
	// Now is the signing clock (X-Amz-Date). Default time.Now.
	Now func() time.Time
}

const (
	defaultExpires = 15 * time.Minute
	maxExpires     = 7 * 24 * time.Hour
	maxPutBytes    = 5 << 30
	// MaxFilenameBytes and MaxDocumentIDBytes bound the key parts (the key,
	// and so the envelope's res claim, must stay small).
	MaxFilenameBytes   = 255
	MaxDocumentIDBytes = 128
)

func (c Config) withDefaults() Config {
	if c.Expires == 0 {
		c.Expires = defaultExpires
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = maxPutBytes
	}
	if c.DefaultContentType == "" {
		c.DefaultContentType = "application/octet-stream"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("Bucket is required"))
	}
	if c.Expires < time.Second || c.Expires > maxExpires {
		errs = append(errs, fmt.Errorf("Expires must be within 1s..%s", maxExpires))
	}
	if c.MaxBytes < 0 || c.MaxBytes > maxPutBytes {
		errs = append(errs, errors.New("MaxBytes must be within 0..5 GiB"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("presign: invalid config: %w", err)
	}
	return nil
}

// ErrInvalidRequest wraps every refusal of a Request (bad tenant, document
// id, filename, type or size): the caller's input, not a server problem.
var ErrInvalidRequest = errors.New("presign: invalid request")

// Request describes one upload.
type Request struct {
	TenantID uuid.UUID
	// DocumentID names the document; empty means a new random UUID.
	// Letters, digits, '.', '_' and '-' only, at most 128 bytes.
	DocumentID string
	// Filename is a base name: UTF-8, at most 255 bytes, no '/', '\',
	// control characters, and not "." or "..".
	Filename string
	// Actor is the envelope subject (who uploads), e.g. "user:42".
	Actor string
	// ContentType is signed; the upload must send exactly it.
	ContentType string
	// ContentLength > 0 is signed: the upload must be exactly that size.
	ContentLength int64
}

// Presigned is what a client needs to upload: send Method to URL with
// exactly Header (every one is signed).
type Presigned struct {
	Method     string      `json:"method"`
	URL        string      `json:"url"`
	Header     http.Header `json:"headers"`
	Bucket     string      `json:"bucket"`
	Key        string      `json:"key"`
	DocumentID string      `json:"document_id"`
	Expires    time.Time   `json:"expires"`
	// Envelope is also in Header; here for callers that log its claims.
	Envelope string `json:"envelope"`
}

// Presigner issues presigned uploads.
type Presigner struct {
	client PutObjectPresigner
	issuer ObjectIssuer
	cfg    Config
	log    *zap.Logger
}

// New returns a Presigner. client is usually s3.NewPresignClient(s3Client).
func New(client PutObjectPresigner, issuer ObjectIssuer, cfg Config, logger *zap.Logger) (*Presigner, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if client == nil || issuer == nil {
		return nil, errors.New("presign: client and issuer are required")
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Presigner{client: client, issuer: issuer, cfg: cfg, log: logger}, nil
}

// Key returns the object key {tenant}/{document}/{filename} after
// validating each part.
func Key(tenant uuid.UUID, documentID, filename string) (string, error) {
	if tenant == uuid.Nil {
		return "", fmt.Errorf("%w: tenant id is nil", ErrInvalidRequest)
	}
	if !validDocumentID(documentID) {
		return "", fmt.Errorf("%w: document id must be 1-%d of [A-Za-z0-9._-] and not a dot path", ErrInvalidRequest, MaxDocumentIDBytes)
	}
	if !validFilename(filename) {
		return "", fmt.Errorf("%w: filename must be a UTF-8 base name of 1-%d bytes without / \\ or control characters", ErrInvalidRequest, MaxFilenameBytes)
	}
	key := tenant.String() + "/" + documentID + "/" + filename
	// The one canonical-key rule the verifier applies (NFC, no dot segments,
	// no escapes or look-alikes, bounded): never sign a key it would refuse.
	if err := envelope.CheckObjectKey(key); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return key, nil
}

func validDocumentID(s string) bool {
	if s == "" || len(s) > MaxDocumentIDBytes || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func validFilename(s string) bool {
	if s == "" || len(s) > MaxFilenameBytes || s == "." || s == ".." || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '/' || r == '\\' || r == utf8.RuneError {
			return false
		}
	}
	return true
}

func validContentType(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Presign signs an envelope for the object and a PUT URL that carries it.
func (p *Presigner) Presign(ctx context.Context, req Request) (Presigned, error) {
	if req.DocumentID == "" {
		req.DocumentID = uuid.NewString()
	}
	key, err := Key(req.TenantID, req.DocumentID, req.Filename)
	if err != nil {
		return Presigned{}, err
	}
	if req.ContentType == "" {
		req.ContentType = p.cfg.DefaultContentType
	}
	if !validContentType(req.ContentType) {
		return Presigned{}, fmt.Errorf("%w: content type must be printable ASCII", ErrInvalidRequest)
	}
	if req.ContentLength < 0 || req.ContentLength > p.cfg.MaxBytes {
		return Presigned{}, fmt.Errorf("%w: content length must be within 0..%d", ErrInvalidRequest, p.cfg.MaxBytes)
	}
	if req.Actor == "" {
		return Presigned{}, fmt.Errorf("%w: actor is required", ErrInvalidRequest)
	}
	token, _, err := p.issuer.Object(ctx, req.TenantID, req.Actor, p.cfg.Bucket, key)
	if err != nil {
		return Presigned{}, fmt.Errorf("presign: sign envelope: %w", err)
	}
	in := &s3.PutObjectInput{
		Bucket:      aws.String(p.cfg.Bucket),
		Key:         aws.String(key),
		ContentType: aws.String(req.ContentType),
		Metadata:    map[string]string{envelope.MetadataKey: token},
	}
	if req.ContentLength > 0 {
		in.ContentLength = aws.Int64(req.ContentLength)
	}
	signedAt := p.cfg.Now().UTC()
	out, err := p.client.PresignPutObject(ctx, in, func(o *s3.PresignOptions) {
		o.Expires = p.cfg.Expires
		o.Presigner = clockPresigner{inner: v4.NewSigner(), at: signedAt}
	})
	if err != nil {
		return Presigned{}, fmt.Errorf("presign: %w", err)
	}
	header := out.SignedHeader.Clone()
	header.Del("Host") // set by every HTTP client from the URL
	if header.Get(envelope.MetadataHeader) != token {
		return Presigned{}, errors.New("presign: the envelope header was not signed (SDK behaviour changed)")
	}
	p.log.Debug("presign: upload URL issued", zap.String("tenant_id", req.TenantID.String()), zap.Duration("expires", p.cfg.Expires))
	return Presigned{
		Method: out.Method, URL: out.URL, Header: header, Bucket: p.cfg.Bucket, Key: key,
		DocumentID: req.DocumentID, Expires: signedAt.Truncate(time.Second).Add(p.cfg.Expires), Envelope: token,
	}, nil
}

// clockPresigner signs at a chosen time (Config.Now), so tests and
// operators control X-Amz-Date instead of the SDK's wall clock.
type clockPresigner struct {
	inner *v4.Signer
	at    time.Time
}

func (c clockPresigner) PresignHTTP(ctx context.Context, cred aws.Credentials, r *http.Request, payloadHash, service, region string, _ time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return c.inner.PresignHTTP(ctx, cred, r, payloadHash, service, region, c.at, optFns...)
}

// stripSecrets keeps only the path of a URL for error messages.
func stripSecrets(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}
