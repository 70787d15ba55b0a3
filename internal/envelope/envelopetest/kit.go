package envelopetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
)

// Defaults of a Kit.
const (
	DefaultIssuer   = "https://backend.test"
	DefaultAudience = "tenantry-test"
)

// Kit is a test key ring plus helpers to sign. Fields may be read freely;
// change them only before first use.
type Kit struct {
	Issuer   string
	Audience string
	// Now is the clock of issued claims and of Verifier/Config.
	Now func() time.Time

	ES256    *envelope.KeySigner // trusted, in Ring
	EdDSA    *envelope.KeySigner // trusted, in Ring
	Stranger *envelope.KeySigner // ES256, NOT in Ring (forgeries)
	// StrangerEd is an Ed25519 key NOT in Ring (algorithm confusion).
	StrangerEd *envelope.KeySigner
	Ring       *envelope.KeyRing

	esPriv, strangerPriv *ecdsa.PrivateKey
	edPriv, strangerEd   ed25519.PrivateKey
}

type options struct {
	seed     string
	now      func() time.Time
	issuer   string
	audience string
}

// Option configures New.
type Option func(*options)

// WithSeed derives all keys from seed, so separate processes (fuzz workers)
// get the same keys. Without it keys are random.
func WithSeed(seed string) Option { return func(o *options) { o.seed = seed } }

// WithClock fixes the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithIssuer sets iss (default DefaultIssuer).
func WithIssuer(iss string) Option { return func(o *options) { o.issuer = iss } }

// WithAudience sets aud (default DefaultAudience).
func WithAudience(aud string) Option { return func(o *options) { o.audience = aud } }

// FixedClock returns a clock stuck at t.
func FixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// New returns a Kit with fresh keys (or seeded ones).
func New(t testing.TB, opts ...Option) *Kit {
	t.Helper()
	o := options{now: time.Now, issuer: DefaultIssuer, audience: DefaultAudience}
	for _, opt := range opts {
		opt(&o)
	}
	if o.seed == "" {
		o.seed = envelope.NewID()
	}
	k := &Kit{Issuer: o.issuer, Audience: o.audience, Now: o.now}
	k.esPriv = ecKey(t, o.seed+"/es256")
	k.strangerPriv = ecKey(t, o.seed+"/stranger")
	k.edPriv = ed25519.NewKeyFromSeed(derive(o.seed + "/eddsa"))
	k.strangerEd = ed25519.NewKeyFromSeed(derive(o.seed + "/stranger-ed"))
	k.ES256 = must[*envelope.KeySigner](t)(envelope.NewKeySigner(k.esPriv, ""))
	k.EdDSA = must[*envelope.KeySigner](t)(envelope.NewKeySigner(k.edPriv, ""))
	k.Stranger = must[*envelope.KeySigner](t)(envelope.NewKeySigner(k.strangerPriv, ""))
	k.StrangerEd = must[*envelope.KeySigner](t)(envelope.NewKeySigner(k.strangerEd, ""))
	k.Ring = must[*envelope.KeyRing](t)(envelope.NewKeyRing(k.ES256.PublicKey(), k.EdDSA.PublicKey()))
	return k
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("envelopetest: %v", err)
		}
		return v
	}
}

func derive(s string) []byte {
	sum := sha256.Sum256([]byte("tenantry envelopetest key\x00" + s))
	return sum[:]
}

// ecKey derives a P-256 key; the scalar is re-derived in the (negligible)
// case it is out of range.
func ecKey(t testing.TB, seed string) *ecdsa.PrivateKey {
	t.Helper()
	for i := 0; i < 8; i++ {
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), derive(fmt.Sprintf("%s/%d", seed, i)))
		if err == nil {
			return k
		}
	}
	t.Fatal("envelopetest: cannot derive a P-256 key")
	return nil
}

// Config is a verifier config trusting the ring, with the Kit's issuer,
// audience and clock (other fields at their defaults).
func (k *Kit) Config() envelope.Config {
	return envelope.Config{Audience: k.Audience, Issuers: []string{k.Issuer}, Keys: k.Ring, Now: k.Now}
}

// Verifier returns a Verifier for Config.
func (k *Kit) Verifier(t testing.TB) *envelope.Verifier {
	t.Helper()
	return must[*envelope.Verifier](t)(envelope.NewVerifier(k.Config(), nil))
}

// NewIssuer returns an envelope.Issuer signing with the ES256 key.
func (k *Kit) NewIssuer(t testing.TB) *envelope.Issuer {
	t.Helper()
	return must[*envelope.Issuer](t)(envelope.NewIssuer(k.ES256, envelope.IssuerConfig{Issuer: k.Issuer, Audience: k.Audience, TTL: time.Hour, Now: k.Now}))
}

// JWKS is the ring as a JSON Web Key Set.
func (k *Kit) JWKS(t testing.TB) []byte {
	t.Helper()
	return must[[]byte](t)(k.Ring.JWKS())
}

// Claims returns valid claims (1h lifetime, fresh jti) for the Kit's clock.
func (k *Kit) Claims(tenant uuid.UUID, act envelope.Action, resource string) envelope.Claims {
	now := k.Now().Truncate(time.Second)
	return envelope.Claims{
		Issuer: k.Issuer, Audience: k.Audience, Subject: "user:test", TenantID: tenant,
		Action: act, Resource: resource, IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Hour),
		ID: envelope.NewID(),
	}
}

// ObjectClaims are valid ingest claims bound to s3://bucket/key.
func (k *Kit) ObjectClaims(tenant uuid.UUID, bucket, key string) envelope.Claims {
	return k.Claims(tenant, envelope.ActionIngest, envelope.ObjectResource(bucket, key))
}

// JobClaims are valid claims for a job with body.
func (k *Kit) JobClaims(tenant uuid.UUID, act envelope.Action, resource string, body []byte) envelope.Claims {
	c := k.Claims(tenant, act, resource)
	c.BodyHash = envelope.BodyHash(body)
	return c
}

// Sign signs c with the trusted ES256 key.
func (k *Kit) Sign(t testing.TB, c envelope.Claims) string { return k.SignWith(t, k.ES256, c) }

// SignEdDSA signs c with the trusted EdDSA key.
func (k *Kit) SignEdDSA(t testing.TB, c envelope.Claims) string { return k.SignWith(t, k.EdDSA, c) }

// SignWith signs c with s.
func (k *Kit) SignWith(t testing.TB, s envelope.Signer, c envelope.Claims) string {
	t.Helper()
	return must[string](t)(s.Sign(context.Background(), c))
}

// Object is a valid ingest envelope for s3://bucket/key (key under tenant/).
func (k *Kit) Object(t testing.TB, tenant uuid.UUID, bucket, key string) string {
	return k.Sign(t, k.ObjectClaims(tenant, bucket, key))
}

// Job is a valid job envelope binding body.
func (k *Kit) Job(t testing.TB, tenant uuid.UUID, act envelope.Action, resource string, body []byte) string {
	return k.Sign(t, k.JobClaims(tenant, act, resource, body))
}

// SignRaw returns header.payload.signature for arbitrary header and payload
// bytes, signed by key ("es256", "eddsa", "stranger", "stranger-ed"): for
// tokens no well-behaved signer would produce.
func (k *Kit) SignRaw(t testing.TB, key string, header, payload []byte) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	var sig []byte
	switch key {
	case "es256", "stranger":
		priv := k.esPriv
		if key == "stranger" {
			priv = k.strangerPriv
		}
		digest := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case "eddsa":
		sig = ed25519.Sign(k.edPriv, []byte(input))
	case "stranger-ed":
		sig = ed25519.Sign(k.strangerEd, []byte(input))
	default:
		t.Fatalf("envelopetest: unknown key %q", key)
	}
	return input + "." + b64(sig)
}

// Header returns the JSON header a signer writes for key s.
func Header(s *envelope.KeySigner) []byte {
	h, _ := json.Marshal(map[string]string{"alg": s.Algorithm(), "kid": s.KeyID(), "typ": envelope.TokenType})
	return h
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
