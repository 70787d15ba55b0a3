package envelopetest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
)

func TestSeededKitsAgree(t *testing.T) {
	t.Parallel()
	clock := envelopetest.WithClock(envelopetest.FixedClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	a := envelopetest.New(t, envelopetest.WithSeed("s"), clock)
	b := envelopetest.New(t, envelopetest.WithSeed("s"), clock)
	c := envelopetest.New(t, envelopetest.WithSeed("other"), clock)
	if a.ES256.KeyID() != b.ES256.KeyID() || a.EdDSA.KeyID() != b.EdDSA.KeyID() {
		t.Fatal("same seed, different keys")
	}
	if a.ES256.KeyID() == c.ES256.KeyID() || a.ES256.KeyID() == a.Stranger.KeyID() {
		t.Fatal("different seeds or roles share a key")
	}
	tenant := uuid.New()
	tok := a.Object(t, tenant, "b", tenant.String()+"/d/k")
	if _, err := b.Verifier(t).VerifyObject(context.Background(), tok, "b", tenant.String()+"/d/k"); err != nil {
		t.Fatalf("a seeded twin cannot verify: %v", err)
	}
}

func TestHostileCatalogue(t *testing.T) {
	t.Parallel()
	k := envelopetest.New(t)
	tenant := uuid.New()
	cases := k.Hostile(t, envelopetest.Target{Tenant: tenant, Bucket: "b", Key: tenant.String() + "/d/f"})
	storable := 0
	for _, c := range cases {
		if c.FitsS3Metadata() {
			storable++
			if strings.ContainsAny(c.Token, " \n\t") || len(c.Token) > 2031 {
				t.Fatalf("%s: claims to fit S3 metadata", c.Name)
			}
		}
		if c.Binding == envelopetest.BindJob && c.Body == nil {
			t.Fatalf("%s: job case without body", c.Name)
		}
	}
	if storable < 60 {
		t.Fatalf("only %d of %d cases can be stored on an S3 object", storable, len(cases))
	}
	t.Logf("%d hostile cases, %d storable as S3 metadata", len(cases), storable)
	_ = envelope.ReasonMalformed
}
