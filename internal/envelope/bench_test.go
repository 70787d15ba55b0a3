package envelope_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
)

func benchVerify(b *testing.B, sign func(*envelopetest.Kit, envelope.Claims) string) {
	k := envelopetest.New(b)
	v := k.Verifier(b)
	tenant := uuid.New()
	bucket, key := "tenantry-uploads", tenant.String()+"/"+uuid.NewString()+"/quarterly-report-2026.pdf"
	tok := sign(k, k.ObjectClaims(tenant, bucket, key))
	ctx := context.Background()
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyObject(ctx, tok, bucket, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyES256 is the full VerifyObject path (parse, key lookup,
// ECDSA P-256 verify, claims, binding, scope) for a typical upload envelope.
func BenchmarkVerifyES256(b *testing.B) {
	benchVerify(b, func(k *envelopetest.Kit, c envelope.Claims) string { return k.Sign(b, c) })
}

// BenchmarkVerifyEdDSA is the same with an Ed25519 envelope.
func BenchmarkVerifyEdDSA(b *testing.B) {
	benchVerify(b, func(k *envelopetest.Kit, c envelope.Claims) string { return k.SignEdDSA(b, c) })
}

// BenchmarkVerifyRejectMalformed is the cost of refusing garbage (no crypto).
func BenchmarkVerifyRejectMalformed(b *testing.B) {
	k := envelopetest.New(b)
	v := k.Verifier(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Verify(ctx, "eyJhbGciOiJub25lIn0.e30."); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkSignES256(b *testing.B) {
	k := envelopetest.New(b)
	tenant := uuid.New()
	c := k.ObjectClaims(tenant, "tenantry-uploads", tenant.String()+"/d/f.pdf")
	ctx := context.Background()
	for b.Loop() {
		if _, err := k.ES256.Sign(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignEdDSA(b *testing.B) {
	k := envelopetest.New(b)
	tenant := uuid.New()
	c := k.ObjectClaims(tenant, "tenantry-uploads", tenant.String()+"/d/f.pdf")
	ctx := context.Background()
	for b.Loop() {
		if _, err := k.EdDSA.Sign(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}
