package envelope

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	Issuer   string // iss written into every envelope (required)
	Audience string // aud written into every envelope (required)
	// TTL is exp - iat. Default 24h: an envelope must outlive the upload,
	// the queue wait and the retries of the work it authorises.
	TTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c IssuerConfig) withDefaults() IssuerConfig {
	if c.TTL == 0 {
		c.TTL = 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c IssuerConfig) validate() error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("Issuer is required"))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("audience is required"))
	}
	if c.TTL < time.Second || c.TTL > defaultMaxLifetime {
		errs = append(errs, fmt.Errorf("TTL must be within 1s..%s", defaultMaxLifetime))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("envelope: invalid issuer config: %w", err)
	}
	return nil
}

// Issuer fills in the routine claims (iss, aud, iat, nbf, exp, jti) and signs:
// the producer side of envelopes, used by presign, the CLI, tests and any Go
// backend.
type Issuer struct {
	cfg    IssuerConfig
	signer Signer
}

// NewIssuer returns an Issuer signing with signer.
func NewIssuer(signer Signer, cfg IssuerConfig) (*Issuer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if signer == nil {
		return nil, errors.New("envelope: issuer needs a signer")
	}
	return &Issuer{cfg: cfg, signer: signer}, nil
}

// Claims returns complete claims for tenant, actor, action and resource,
// valid from now for the configured TTL, with a fresh random jti.
func (i *Issuer) Claims(tenant uuid.UUID, actor string, act Action, resource string) Claims {
	now := i.cfg.Now().Truncate(time.Second)
	return Claims{
		Issuer: i.cfg.Issuer, Audience: i.cfg.Audience, Subject: actor, TenantID: tenant,
		Action: act, Resource: resource, IssuedAt: now, NotBefore: now, Expiry: now.Add(i.cfg.TTL),
		ID: NewID(),
	}
}

// Object signs an ingest envelope bound to s3://bucket/key.
func (i *Issuer) Object(ctx context.Context, tenant uuid.UUID, actor, bucket, key string) (string, Claims, error) {
	c := i.Claims(tenant, actor, ActionIngest, ObjectResource(bucket, key))
	tok, err := i.signer.Sign(ctx, c)
	return tok, c, err
}

// Job signs an envelope for a job on resource whose body is exactly body.
func (i *Issuer) Job(ctx context.Context, tenant uuid.UUID, actor string, act Action, resource string, body []byte) (string, Claims, error) {
	c := i.Claims(tenant, actor, act, resource)
	c.BodyHash = BodyHash(body)
	tok, err := i.signer.Sign(ctx, c)
	return tok, c, err
}

// Sign signs c as given (no defaults filled in).
func (i *Issuer) Sign(ctx context.Context, c Claims) (string, error) { return i.signer.Sign(ctx, c) }

// NewID returns a random 128-bit jti, base64url (22 characters).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
