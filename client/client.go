package client

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/presign"
)

// Client signs envelopes, presigns uploads and sends jobs for one issuer.
// It is safe for concurrent use.
type Client struct {
	cfg       Config
	issuer    *envelope.Issuer
	presigner *presign.Presigner // nil without S3
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	iss, err := envelope.NewIssuer(cfg.Signer, envelope.IssuerConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: cfg.TTL, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	c := &Client{cfg: cfg, issuer: iss}
	if cfg.S3 != nil {
		c.presigner, err = presign.New(cfg.S3, iss, presign.Config{Bucket: cfg.Bucket, Expires: cfg.URLExpires,
			MaxBytes: cfg.MaxUploadBytes, Now: cfg.Now}, cfg.Logger)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	return c, nil
}

// ObjectKey returns the canonical key {tenant}/{document}/{filename}, or an
// error matching ErrInvalidRequest when a part would make it non-canonical
// (the worker refuses such keys whatever their envelope says).
func ObjectKey(tenant uuid.UUID, documentID, filename string) (string, error) {
	key, err := presign.Key(tenant, documentID, filename)
	if err != nil {
		return "", invalid("%w", err)
	}
	if err := envelope.CheckObjectKey(key); err != nil {
		return "", invalid("%w", err)
	}
	return key, nil
}

// checkTenant refuses the nil tenant.
func checkTenant(tenant uuid.UUID) error {
	if tenant == uuid.Nil {
		return invalid("tenant id is the nil UUID")
	}
	return nil
}

// ObjectEnvelope signs an ingest envelope bound to s3://bucket/key, for
// producers that upload themselves (put it in the object's
// x-amz-meta-tenantry-envelope metadata). key must be canonical and under
// the tenant's prefix.
func (c *Client) ObjectEnvelope(ctx context.Context, tenant uuid.UUID, actor, bucket, key string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	k, err := envelope.ParseObjectKey(key)
	if err != nil {
		return "", invalid("%w", err)
	}
	if k.Tenant != tenant {
		return "", invalid("object key is not under the tenant's prefix")
	}
	if bucket == "" || actor == "" {
		return "", invalid("bucket and actor are required")
	}
	tok, _, err := c.issuer.Object(ctx, tenant, actor, bucket, key)
	if err != nil {
		return "", signError(err)
	}
	return tok, nil
}

// Sign signs arbitrary claims as given (iss, aud, iat, exp and jti
// included): for envelopes the other methods do not cover, such as a
// search envelope. Prefer the specific methods.
func (c *Client) Sign(ctx context.Context, claims Claims) (string, error) {
	if err := claims.Validate(); err != nil {
		return "", invalid("%w", err)
	}
	tok, err := c.issuer.Sign(ctx, claims)
	if err != nil {
		return "", signError(err)
	}
	return tok, nil
}

// Claims returns complete claims (iss, aud, iat, nbf, exp, a fresh jti)
// for tenant, actor, action and resource, to adjust and pass to Sign.
func (c *Client) Claims(tenant uuid.UUID, actor string, act Action, resource string) Claims {
	return c.issuer.Claims(tenant, actor, act, resource)
}

// SearchEnvelope signs a search envelope for one tenant (resource "doc:*":
// every document), as a backend issues per user request.
func (c *Client) SearchEnvelope(ctx context.Context, tenant uuid.UUID, actor string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	if actor == "" {
		return "", invalid("actor is required")
	}
	return c.Sign(ctx, c.issuer.Claims(tenant, actor, ActionSearch, envelope.DocumentResource("*")))
}

func signError(err error) error { return &SignError{Err: err} }
