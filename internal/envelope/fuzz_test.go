package envelope_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
)

// fuzzKit has the same keys in every fuzz worker process (seeded) and a
// fixed clock, so seeded valid envelopes stay valid and mutations go deep.
func fuzzKit(t testing.TB) *envelopetest.Kit {
	return envelopetest.New(t, envelopetest.WithSeed("fuzz"), envelopetest.WithClock(envelopetest.FixedClock(epoch)))
}

// FuzzVerify feeds arbitrary tokens and bindings to all three verify calls.
// Whatever the input: no panic, every failure is a known reason code with a
// generic message, and every success satisfies the binding it was asked for.
func FuzzVerify(f *testing.F) {
	k := fuzzKit(f)
	tenant := uuid.MustParse("0b5f7c2e-3d41-4c8a-9e6f-1a2b3c4d5e6f")
	bucket, key := "uploads", tenant.String()+"/doc-1/report.pdf"
	body := []byte(`{"job":"reindex"}`)
	for _, c := range k.Hostile(f, envelopetest.Target{Tenant: tenant, Bucket: bucket, Key: key, Body: body}) {
		f.Add(c.Token, c.Bucket, c.Key, c.Body)
	}
	f.Add(k.Object(f, tenant, bucket, key), bucket, key, body)
	f.Add(k.SignEdDSA(f, k.ObjectClaims(tenant, bucket, key)), bucket, key, body)
	f.Add(k.Job(f, tenant, envelope.ActionReindex, "doc:doc-1", body), "", "", body)

	v := k.Verifier(f)
	reasons := map[string]bool{}
	for _, r := range envelope.Reasons() {
		reasons[string(r)] = true
	}
	f.Fuzz(func(t *testing.T, token, bucket, key string, body []byte) {
		ctx := context.Background()
		check := func(name string, got envelope.Verified, err error) bool {
			if err != nil {
				if r := envelope.ReasonOf(err); !reasons[r] {
					t.Fatalf("%s: error without a known reason: %v", name, err)
				}
				if len(token) >= 16 && strings.Contains(err.Error(), token) {
					t.Fatalf("%s: error leaks the token", name)
				}
				if !got.Scope.IsZero() {
					t.Fatalf("%s: rejection with a scope", name)
				}
				return false
			}
			if len(token) > envelope.DefaultMaxTokenBytes {
				t.Fatalf("%s: accepted an oversized token", name)
			}
			if got.Scope.IsZero() || got.Scope.TenantID() != got.Claims.TenantID || got.Claims.TenantID == uuid.Nil {
				t.Fatalf("%s: accepted without a proper scope", name)
			}
			if got.Claims.Audience != k.Audience || got.Claims.Issuer != k.Issuer {
				t.Fatalf("%s: accepted foreign iss/aud", name)
			}
			if !got.Claims.Action.Valid() {
				t.Fatalf("%s: accepted unknown action", name)
			}
			return true
		}
		got, err := v.Verify(ctx, token)
		check("Verify", got, err)
		got, err = v.VerifyObject(ctx, token, bucket, key)
		if check("VerifyObject", got, err) {
			if got.Claims.Resource != envelope.ObjectResource(bucket, key) || !strings.HasPrefix(key, got.Claims.TenantID.String()+"/") {
				t.Fatalf("VerifyObject accepted a binding it does not hold: %q %q %q", got.Claims.Resource, bucket, key)
			}
		}
		got, err = v.VerifyJob(ctx, token, body)
		if check("VerifyJob", got, err) && got.Claims.BodyHash != envelope.BodyHash(body) {
			t.Fatal("VerifyJob accepted a body hash mismatch")
		}
	})
}
