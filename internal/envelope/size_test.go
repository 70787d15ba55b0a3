package envelope_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
)

// TestEnvelopeSizeBudget measures a typical upload envelope (the numbers in
// docs/envelope.md) and the worst case presign can produce, against S3's
// 2 KB user-metadata limit.
func TestEnvelopeSizeBudget(t *testing.T) {
	t.Parallel()
	k := envelopetest.New(t, envelopetest.WithIssuer("https://api.example.com"), envelopetest.WithAudience("tenantry"))
	tenant := uuid.New()
	typical := k.ObjectClaims(tenant, "acme-tenantry-uploads", tenant.String()+"/"+uuid.NewString()+"/quarterly-report-2026.pdf")
	typical.Subject = "user:8f14e45f-ceea-467f-a0e6-3f8ee0d7e0b1"
	// Worst case through presign: 128-byte document id, 255-byte filename,
	// 63-byte bucket, 256-byte subject.
	worst := k.ObjectClaims(tenant, stringOf('b', 63), tenant.String()+"/"+stringOf('d', 128)+"/"+stringOf('f', 255))
	worst.Subject = stringOf('s', 200)
	for _, tc := range []struct {
		name   string
		claims envelope.Claims
	}{{"typical", typical}, {"presign worst case", worst}} {
		for _, s := range []*envelope.KeySigner{k.ES256, k.EdDSA} {
			tok := k.SignWith(t, s, tc.claims)
			headroom := envelope.S3UserMetadataLimit - len(envelope.MetadataKey) - len(tok)
			t.Logf("%s %s envelope: %d bytes; S3 metadata headroom %d bytes", tc.name, s.Algorithm(), len(tok), headroom)
			if len(tok) > envelope.DefaultMaxTokenBytes {
				t.Fatalf("%s envelope of %d bytes exceeds the %d-byte budget", tc.name, len(tok), envelope.DefaultMaxTokenBytes)
			}
		}
	}
}

func stringOf(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
