package envelope_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newKit(t testing.TB) *envelopetest.Kit {
	return envelopetest.New(t, envelopetest.WithClock(envelopetest.FixedClock(epoch)))
}

// subject is one tenant's object and job body, as most verify tests use them.
type subject struct {
	tenant      uuid.UUID
	bucket, key string
	body        []byte
}

func newSubject() subject {
	tenant := uuid.New()
	return subject{tenant: tenant, bucket: "uploads", key: tenant.String() + "/doc-1/report.pdf", body: []byte(`{"job":"reindex","doc":"doc-1"}`)}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	v := k.Verifier(t)
	s := newSubject()
	tenant, bucket, key, body := s.tenant, s.bucket, s.key, s.body
	ctx := context.Background()

	tests := []struct {
		name  string
		token string
		check func(string) (envelope.Verified, error)
	}{
		{"ES256 object", k.Object(t, tenant, bucket, key), func(tok string) (envelope.Verified, error) {
			return v.VerifyObject(ctx, tok, bucket, key)
		}},
		{"EdDSA object", k.SignEdDSA(t, k.ObjectClaims(tenant, bucket, key)), func(tok string) (envelope.Verified, error) {
			return v.VerifyObject(ctx, tok, bucket, key)
		}},
		{"ES256 job", k.Job(t, tenant, envelope.ActionReindex, "doc:doc-1", body), func(tok string) (envelope.Verified, error) {
			return v.VerifyJob(ctx, tok, body)
		}},
		{"EdDSA job without binding (Verify)", k.SignEdDSA(t, k.JobClaims(tenant, envelope.ActionPurge, "doc:*", body)), func(tok string) (envelope.Verified, error) {
			return v.Verify(ctx, tok)
		}},
		{"expired but within leeway", k.Sign(t, func() envelope.Claims {
			c := k.ObjectClaims(tenant, bucket, key)
			c.IssuedAt, c.NotBefore, c.Expiry = epoch.Add(-time.Hour), epoch.Add(-time.Hour), epoch.Add(-29*time.Second)
			return c
		}()), func(tok string) (envelope.Verified, error) { return v.VerifyObject(ctx, tok, bucket, key) }},
		{"nbf within leeway, no nbf claim", k.Sign(t, func() envelope.Claims {
			c := k.ObjectClaims(tenant, bucket, key)
			c.IssuedAt, c.NotBefore = epoch.Add(29*time.Second), time.Time{}
			return c
		}()), func(tok string) (envelope.Verified, error) { return v.VerifyObject(ctx, tok, bucket, key) }},
		{"audience array containing ours", k.SignRaw(t, "es256", envelopetest.Header(k.ES256), []byte(
			`{"iss":"`+k.Issuer+`","aud":["other","`+k.Audience+`"],"sub":"svc:api","tid":"`+tenant.String()+
				`","act":"ingest","res":"s3://uploads/`+key+`","iat":`+unix(epoch)+`,"exp":`+unix(epoch.Add(time.Hour))+`,"jti":"j1","extra":{"ok":[1,2]}}`)),
			func(tok string) (envelope.Verified, error) { return v.VerifyObject(ctx, tok, bucket, key) }},
		{"typ JWT (PyJWT default)", k.SignRaw(t, "eddsa", []byte(`{"alg":"EdDSA","kid":"`+k.EdDSA.KeyID()+`","typ":"JWT"}`), mustJSON(t, k.ObjectClaims(tenant, bucket, key))),
			func(tok string) (envelope.Verified, error) { return v.VerifyObject(ctx, tok, bucket, key) }},
		{"no typ", k.SignRaw(t, "eddsa", []byte(`{"kid":"`+k.EdDSA.KeyID()+`","alg":"EdDSA"}`), mustJSON(t, k.ObjectClaims(tenant, bucket, key))),
			func(tok string) (envelope.Verified, error) { return v.VerifyObject(ctx, tok, bucket, key) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.check(tt.token)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if got.Scope.TenantID() != tenant || got.Claims.TenantID != tenant {
				t.Fatalf("scope tenant = %s, want %s", got.Scope.TenantID(), tenant)
			}
			if got.Scope.Actor() != got.Claims.Subject || got.Scope.JobID() != got.Claims.ID || got.Scope.IsZero() {
				t.Fatalf("scope %+v does not carry sub/jti of %+v", got.Scope, got.Claims)
			}
			if got.Claims.Audience != k.Audience {
				t.Fatalf("audience = %q", got.Claims.Audience)
			}
		})
	}
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func mustJSON(t testing.TB, c envelope.Claims) []byte {
	t.Helper()
	b, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostile is the attacker's side: every catalogued forgery, tampering,
// confusion and binding trick is refused with its own reason code, and the
// error says nothing about the token.
func TestHostile(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	v := k.Verifier(t)
	tenant := uuid.New()
	cases := k.Hostile(t, envelopetest.Target{Tenant: tenant, Bucket: "uploads", Key: tenant.String() + "/doc-1/report.pdf"})
	if len(cases) < 30 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	seen := map[envelope.Reason]bool{}
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.Name] {
			t.Fatalf("duplicate case name %q", c.Name)
		}
		names[c.Name] = true
		seen[c.Reason] = true
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Check(context.Background(), v)
			if err == nil {
				t.Fatalf("accepted a hostile envelope: %+v", got.Claims)
			}
			if r := envelope.ReasonOf(err); r != string(c.Reason) {
				t.Fatalf("reason = %q (%v), want %q", r, err, c.Reason)
			}
			if !errors.Is(err, envelope.ErrRejected) {
				t.Fatalf("not ErrRejected: %v", err)
			}
			if !got.Scope.IsZero() {
				t.Fatal("a rejection minted a scope")
			}
			msg := err.Error()
			if len(c.Token) > 8 {
				for _, part := range strings.Split(c.Token, ".") {
					if len(part) >= 8 && strings.Contains(msg, part) {
						t.Fatalf("error leaks token contents: %q", msg)
					}
				}
			}
			if strings.Contains(msg, tenant.String()) {
				t.Fatalf("error leaks the tenant id: %q", msg)
			}
		})
	}
	for _, r := range envelope.Reasons() {
		if !seen[r] {
			t.Errorf("no hostile case for reason %q", r)
		}
	}
}

func TestRequireAction(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	v := k.Verifier(t)
	tenant := uuid.New()
	body := []byte(`{"job":"delete"}`)
	got, err := v.VerifyJob(context.Background(), k.Job(t, tenant, envelope.ActionDelete, "doc:d1", body), body)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.RequireAction(envelope.ActionDelete); err != nil {
		t.Fatal(err)
	}
	if err := got.RequireAction(envelope.ActionPurge); envelope.ReasonOf(err) != string(envelope.ReasonWrongAction) {
		t.Fatalf("RequireAction(purge) = %v", err)
	}
}

func TestVerifyContextCancelled(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := k.Verifier(t).Verify(ctx, anyObject(t, k))
	if !errors.Is(err, context.Canceled) || envelope.ReasonOf(err) != "" {
		t.Fatalf("err = %v", err)
	}
}

// TestKeysUnavailableIsNotARejection: an outage of the key source must be
// retried, never recorded as a forged envelope.
func TestKeysUnavailableIsNotARejection(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	cfg := k.Config()
	cfg.Keys = failingSource{}
	v, err := envelope.NewVerifier(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), anyObject(t, k))
	if !errors.Is(err, envelope.ErrKeysUnavailable) || envelope.ReasonOf(err) != "" || errors.Is(err, envelope.ErrRejected) {
		t.Fatalf("err = %v", err)
	}
}

type failingSource struct{}

func (failingSource) PublicKey(context.Context, string) (envelope.PublicKey, error) {
	return envelope.PublicKey{}, errors.New("connection refused")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	tests := []struct {
		name string
		mut  func(*envelope.Config)
	}{
		{"no audience", func(c *envelope.Config) { c.Audience = "" }},
		{"no issuers", func(c *envelope.Config) { c.Issuers = nil }},
		{"empty issuer", func(c *envelope.Config) { c.Issuers = []string{""} }},
		{"no keys", func(c *envelope.Config) { c.Keys = nil }},
		{"leeway too large", func(c *envelope.Config) { c.Leeway = time.Hour }},
		{"negative leeway", func(c *envelope.Config) { c.Leeway = -time.Second }},
		{"huge token limit", func(c *envelope.Config) { c.MaxTokenBytes = 1 << 20 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := k.Config()
			tt.mut(&cfg)
			if _, err := envelope.NewVerifier(cfg, nil); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestCustomLimits(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	tenant := uuid.New()
	key := tenant.String() + "/d/f"
	tok := k.Object(t, tenant, "b", key)
	tests := []struct {
		name   string
		mut    func(*envelope.Config)
		reason envelope.Reason
	}{
		{"token limit below the token", func(c *envelope.Config) { c.MaxTokenBytes = len(tok) - 1 }, envelope.ReasonTooLarge},
		{"token limit at the token", func(c *envelope.Config) { c.MaxTokenBytes = len(tok) }, ""},
		{"clock after expiry", func(c *envelope.Config) { c.Now = envelopetest.FixedClock(epoch.Add(2 * time.Hour)) }, envelope.ReasonExpired},
		{"clock at exp plus leeway", func(c *envelope.Config) {
			c.Now = envelopetest.FixedClock(epoch.Add(time.Hour + 30*time.Second))
		}, envelope.ReasonExpired},
		{"clock just inside exp plus leeway", func(c *envelope.Config) {
			c.Now = envelopetest.FixedClock(epoch.Add(time.Hour + 29*time.Second))
		}, ""},
		{"clock before iat minus leeway", func(c *envelope.Config) {
			c.Now = envelopetest.FixedClock(epoch.Add(-31 * time.Second))
		}, envelope.ReasonNotYetValid},
		{"short max lifetime", func(c *envelope.Config) { c.MaxLifetime = time.Minute }, envelope.ReasonLifetimeExceeded},
		{"second issuer trusted", func(c *envelope.Config) { c.Issuers = []string{"https://other.test", k.Issuer} }, ""},
		{"issuer no longer trusted", func(c *envelope.Config) { c.Issuers = []string{"https://other.test"} }, envelope.ReasonWrongIssuer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := k.Config()
			tt.mut(&cfg)
			v, err := envelope.NewVerifier(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.VerifyObject(context.Background(), tok, "b", key)
			if got := envelope.ReasonOf(err); got != string(tt.reason) {
				t.Fatalf("reason %q (%v), want %q", got, err, tt.reason)
			}
		})
	}
}

// anyObject is a valid object envelope for a fresh tenant.
func anyObject(t *testing.T, k *envelopetest.Kit) string {
	t.Helper()
	tn := uuid.New()
	return k.Object(t, tn, "b", tn.String()+"/d/k")
}
