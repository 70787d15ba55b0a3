package envelope

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Config configures a Verifier.
type Config struct {
	// Audience must appear in aud (required), e.g. "tenantry".
	Audience string
	// Issuers lists the accepted iss values (at least one).
	Issuers []string
	// Leeway absorbs clock skew on exp, nbf and iat. Default 30s, at most 5m.
	Leeway time.Duration
	// MaxLifetime caps exp - iat. Default 15 days (SQS keeps messages 14
	// days at most; an envelope must outlive its queue wait and retries).
	MaxLifetime time.Duration
	// Keys finds verification keys by kid (required).
	Keys KeySource
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// MaxTokenBytes refuses longer tokens before parsing. Default
	// DefaultMaxTokenBytes.
	MaxTokenBytes int
}

const (
	defaultLeeway      = 30 * time.Second
	maxLeeway          = 5 * time.Minute
	defaultMaxLifetime = 15 * 24 * time.Hour
)

func (c Config) withDefaults() Config {
	if c.Leeway == 0 {
		c.Leeway = defaultLeeway
	}
	if c.MaxLifetime == 0 {
		c.MaxLifetime = defaultMaxLifetime
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxTokenBytes == 0 {
		c.MaxTokenBytes = DefaultMaxTokenBytes
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Audience == "" {
		errs = append(errs, errors.New("audience is required"))
	}
	if len(c.Issuers) == 0 {
		errs = append(errs, errors.New("at least one issuer is required"))
	}
	for _, iss := range c.Issuers {
		if iss == "" {
			errs = append(errs, errors.New("empty issuer"))
		}
	}
	if c.Keys == nil {
		errs = append(errs, errors.New("Keys is required"))
	}
	if c.Leeway < 0 || c.Leeway > maxLeeway {
		errs = append(errs, fmt.Errorf("leeway must be within 0..%s", maxLeeway))
	}
	if c.MaxLifetime < 0 {
		errs = append(errs, errors.New("MaxLifetime must be positive"))
	}
	if c.MaxTokenBytes < 0 || c.MaxTokenBytes > 16<<10 {
		errs = append(errs, errors.New("MaxTokenBytes must be within 0..16384"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("envelope: invalid config: %w", err)
	}
	return nil
}

// Verified is an accepted envelope: its claims and the tenant scope minted
// from them (the only way to reach tenant data).
type Verified struct {
	Claims Claims
	Scope  tenantdb.Scope
}

// RequireAction refuses (wrong_action) when the envelope authorises another
// action than a, e.g. a job whose body says "reindex" under a "delete" envelope.
func (v Verified) RequireAction(a Action) error {
	if v.Claims.Action != a {
		return reject(ReasonWrongAction, "envelope authorises another action")
	}
	return nil
}

// Verifier checks envelopes. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	issuers map[string]struct{}
	log     *zap.Logger
}

// NewVerifier checks cfg and returns a Verifier. A nil logger logs nothing.
func NewVerifier(cfg Config, logger *zap.Logger) (*Verifier, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	v := &Verifier{cfg: cfg, issuers: make(map[string]struct{}, len(cfg.Issuers)), log: logger}
	for _, iss := range cfg.Issuers {
		v.issuers[iss] = struct{}{}
	}
	return v, nil
}

// Verify checks size, structure, algorithm, key, signature, issuer, audience,
// time and claim shape, but no binding. Use it only where no resource is at
// hand (the DLQ inspector); work on objects or jobs uses VerifyObject or
// VerifyJob.
func (v *Verifier) Verify(ctx context.Context, token string) (Verified, error) {
	c, err := v.verify(ctx, token)
	if err != nil {
		return Verified{}, err
	}
	return v.mint(c)
}

// VerifyObject verifies an envelope found on an S3 object: on top of Verify,
// res must be exactly s3://bucket/key, key must start with "{tid}/", and the
// action must be ingest. bucket and key are the decoded names (S3 event
// notifications URL-encode keys).
func (v *Verifier) VerifyObject(ctx context.Context, token, bucket, key string) (Verified, error) {
	return v.verifyObject(ctx, token, bucket, key, v.cfg.Now())
}

func (v *Verifier) verifyObject(ctx context.Context, token, bucket, key string, now time.Time) (Verified, error) {
	// The key is judged before the envelope: a non-canonical key means
	// nothing, whatever was signed for it.
	k, err := ParseObjectKey(key)
	if err != nil {
		return Verified{}, err
	}
	c, err := v.verifyAt(ctx, token, now)
	if err != nil {
		return Verified{}, err
	}
	if bucket == "" || c.Resource != ObjectResource(bucket, key) {
		return Verified{}, reject(ReasonBindingMismatch, "signed resource is not this object")
	}
	if k.Tenant != c.TenantID {
		return Verified{}, reject(ReasonBindingMismatch, "object key is not under the tenant prefix")
	}
	if c.Action != ActionIngest {
		return Verified{}, reject(ReasonWrongAction, "object envelope must authorise ingest")
	}
	return v.mint(c)
}

// VerifyJob verifies an envelope sent with a job: on top of Verify, bh must
// be the base64url SHA-256 of body (the exact bytes). The caller still
// checks that the job's action is the signed one (Verified.RequireAction) and
// that the job's target is the signed resource.
func (v *Verifier) VerifyJob(ctx context.Context, token string, body []byte) (Verified, error) {
	c, err := v.verify(ctx, token)
	if err != nil {
		return Verified{}, err
	}
	if c.BodyHash == "" {
		return Verified{}, reject(ReasonBodyHashMismatch, "job envelope has no body hash")
	}
	if subtle.ConstantTimeCompare([]byte(c.BodyHash), []byte(BodyHash(body))) != 1 {
		return Verified{}, reject(ReasonBodyHashMismatch, "body hash does not match the job body")
	}
	return v.mint(c)
}

func (v *Verifier) mint(c Claims) (Verified, error) {
	scope, err := tenantdb.MintVerified(c.TenantID, c.Subject, c.ID)
	if err != nil {
		return Verified{}, reject(ReasonMalformed, "claims cannot form a tenant scope")
	}
	return Verified{Claims: c, Scope: scope}, nil
}

var (
	algsES256 = []jose.SignatureAlgorithm{jose.ES256}
	algsEdDSA = []jose.SignatureAlgorithm{jose.EdDSA}
)

func (v *Verifier) verify(ctx context.Context, token string) (Claims, error) {
	return v.verifyAt(ctx, token, v.cfg.Now())
}

// verifyAt verifies token with now as the time of the time checks.
func (v *Verifier) verifyAt(ctx context.Context, token string, now time.Time) (Claims, error) {
	if err := ctx.Err(); err != nil {
		return Claims{}, err
	}
	if len(token) > v.cfg.MaxTokenBytes {
		return Claims{}, reject(ReasonTooLarge, "token exceeds the size limit")
	}
	hseg, pseg, sseg, err := splitCompact(token)
	if err != nil {
		return Claims{}, err
	}
	h, err := parseHeader(hseg)
	if err != nil {
		return Claims{}, err
	}
	payload, err := b64.DecodeString(pseg)
	if err != nil {
		return Claims{}, reject(ReasonMalformed, "payload is not base64url")
	}
	if _, err := b64.DecodeString(sseg); err != nil {
		return Claims{}, reject(ReasonMalformed, "signature is not base64url")
	}

	key, err := v.cfg.Keys.PublicKey(ctx, h.Kid)
	switch {
	case err == nil:
	case errors.Is(err, ErrUnknownKey):
		return Claims{}, reject(ReasonUnknownKey, "kid names no trusted key")
	case ctx.Err() != nil:
		return Claims{}, ctx.Err()
	default:
		return Claims{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	if key.Algorithm != h.Alg {
		return Claims{}, reject(ReasonAlgMismatch, "alg does not match the key's algorithm")
	}

	// The signature check itself is go-jose's, restricted to the one
	// algorithm of the resolved key.
	algs := algsES256
	if key.Algorithm == AlgEdDSA {
		algs = algsEdDSA
	}
	jws, err := jose.ParseSignedCompact(token, algs)
	if err != nil {
		return Claims{}, reject(ReasonMalformed, "token is not a valid JWS")
	}
	if _, err := jws.Verify(key.Key); err != nil {
		return Claims{}, reject(ReasonBadSignature, "signature does not verify")
	}

	c, err := parseClaims(payload, v.cfg.Audience)
	if err != nil {
		return Claims{}, err
	}
	if _, ok := v.issuers[c.Issuer]; !ok {
		return Claims{}, reject(ReasonWrongIssuer, "issuer is not trusted")
	}
	if c.Audience != v.cfg.Audience {
		return Claims{}, reject(ReasonWrongAudience, "envelope is for another audience")
	}
	if !now.Before(c.Expiry.Add(v.cfg.Leeway)) {
		return Claims{}, reject(ReasonExpired, "envelope expired")
	}
	if now.Add(v.cfg.Leeway).Before(c.IssuedAt) {
		return Claims{}, reject(ReasonNotYetValid, "envelope issued in the future")
	}
	if !c.NotBefore.IsZero() && now.Add(v.cfg.Leeway).Before(c.NotBefore) {
		return Claims{}, reject(ReasonNotYetValid, "envelope not valid yet")
	}
	if c.Expiry.Sub(c.IssuedAt) > v.cfg.MaxLifetime {
		return Claims{}, reject(ReasonLifetimeExceeded, "envelope lifetime exceeds the maximum")
	}
	return c, nil
}
