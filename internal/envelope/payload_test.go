package envelope_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
)

const anchorTyp = "tenantry-anchor+jws"

func TestSignedPayloadRoundTripAndRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := envelopetest.New(t)
	payload := []byte(`{"tenant":"t","seq":3}`)
	for _, s := range []*envelope.KeySigner{k.ES256, k.EdDSA} {
		tok, err := s.SignPayload(ctx, anchorTyp, payload)
		if err != nil {
			t.Fatal(err)
		}
		got, err := envelope.OpenSigned(ctx, k.Ring, tok, anchorTyp)
		if err != nil || string(got.Payload) != string(payload) || got.KeyID != s.KeyID() {
			t.Fatalf("%s: %+v %v", s.Algorithm(), got, err)
		}
	}
	good, err := k.ES256.SignPayload(ctx, anchorTyp, payload)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	strangerSameKid, err := envelope.NewKeySigner(mustGenerate(t), k.ES256.KeyID())
	if err != nil {
		t.Fatal(err)
	}
	forged, err := strangerSameKid.SignPayload(ctx, anchorTyp, payload)
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := k.Stranger.SignPayload(ctx, anchorTyp, payload)
	if err != nil {
		t.Fatal(err)
	}
	other, err := k.ES256.SignPayload(ctx, "tenantry-other+jws", payload)
	if err != nil {
		t.Fatal(err)
	}
	tn := uuid.New()
	envelopeTok := k.Object(t, tn, "b", tn.String()+"/d/f.txt")
	hdr := func(h string) string { return k.SignRaw(t, "es256", []byte(h), payload) }
	kid := k.ES256.KeyID()
	for _, tc := range []struct {
		name, token string
		reason      envelope.Reason
	}{
		{"payload altered", parts[0] + "." + b64url(`{"tenant":"t","seq":4}`) + "." + parts[2], envelope.ReasonBadSignature},
		{"signed by another key under the trusted kid", forged, envelope.ReasonBadSignature},
		{"signed by an unknown key", unknown, envelope.ReasonUnknownKey},
		{"another payload type", other, envelope.ReasonMalformed},
		{"an envelope", envelopeTok, envelope.ReasonMalformed},
		{"no typ", hdr(`{"alg":"ES256","kid":"` + kid + `"}`), envelope.ReasonMalformed},
		{"alg none", hdr(`{"alg":"none","kid":"` + kid + `","typ":"` + anchorTyp + `"}`), envelope.ReasonAlgNotAllowed},
		{"embedded key", hdr(`{"alg":"ES256","kid":"` + kid + `","typ":"` + anchorTyp + `","jwk":{}}`), envelope.ReasonMalformed},
		{"alg confusion", hdr(`{"alg":"EdDSA","kid":"` + kid + `","typ":"` + anchorTyp + `"}`), envelope.ReasonAlgMismatch},
		{"two parts", parts[0] + "." + parts[1], envelope.ReasonMalformed},
		{"oversized", strings.Repeat("a", envelope.MaxPayloadTokenBytes+1), envelope.ReasonTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := envelope.OpenSigned(ctx, k.Ring, tc.token, anchorTyp)
			if got := envelope.ReasonOf(err); got != string(tc.reason) {
				t.Fatalf("reason %q (%v), want %s", got, err, tc.reason)
			}
		})
	}
	// The other direction: a signed payload is never an envelope.
	if v, _ := k.Verifier(t).Check(ctx, envelope.CheckRequest{Token: good}); v.Valid || v.Reason != string(envelope.ReasonMalformed) {
		t.Fatalf("a signed payload as an envelope: %+v", v)
	}
	for _, typ := range []string{"", "JWT", envelope.TokenType, "tenantry-x", "tenantry-UPPER+jws"} {
		if _, err := k.ES256.SignPayload(ctx, typ, payload); err == nil {
			t.Errorf("signed under payload type %q", typ)
		}
	}
	if _, err := k.ES256.SignPayload(ctx, anchorTyp, nil); err == nil {
		t.Error("signed an empty payload")
	}
}

func TestKMSSignsPayloads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, spec := range []string{"ECC_NIST_P256", "ECC_NIST_EDWARDS25519"} {
		fake := envelopetest.NewKMS(t)
		arn := fake.CreateKey(t, spec)
		signer, err := envelope.NewKMSSigner(fake.Client(), envelope.KMSSignerConfig{KeyID: arn})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := envelope.NewKMSKeySource(fake.Client(), envelope.KMSKeysConfig{KeyIDs: []string{arn}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := signer.SignPayload(ctx, anchorTyp, []byte(`{"x":1}`))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := envelope.OpenSigned(ctx, keys, tok, anchorTyp); err != nil || string(got.Payload) != `{"x":1}` {
			t.Fatalf("%s: %+v %v", spec, got, err)
		}
	}
}

func FuzzOpenSigned(f *testing.F) {
	k := envelopetest.New(f, envelopetest.WithSeed("fuzz-open-signed"))
	tok, err := k.ES256.SignPayload(context.Background(), anchorTyp, []byte(`{"a":1}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add(k.Object(f, uuid.MustParse("6f1c1d2e-0000-4000-8000-000000000001"), "b", "6f1c1d2e-0000-4000-8000-000000000001/d/f.txt"))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, token string) {
		got, err := envelope.OpenSigned(context.Background(), k.Ring, token, anchorTyp)
		if err == nil && token != tok && string(got.Payload) == `{"a":1}` && !strings.HasPrefix(token, strings.Split(tok, ".")[0]) {
			t.Fatalf("accepted a token with another header: %q", token)
		}
		if err != nil && !errors.Is(err, envelope.ErrRejected) {
			t.Fatalf("non-rejection error %v", err)
		}
	})
}

func ExampleOpenSigned() {
	ctx := context.Background()
	signer, _ := envelope.GenerateKey(envelope.AlgEdDSA, "anchor-key")
	ring, _ := envelope.NewKeyRing(signer.PublicKey())
	tok, _ := signer.SignPayload(ctx, "tenantry-anchor+jws", []byte(`{"seq":7}`))
	got, err := envelope.OpenSigned(ctx, ring, tok, "tenantry-anchor+jws")
	fmt.Println(string(got.Payload), got.KeyID, err)
	// Output: {"seq":7} anchor-key <nil>
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustGenerate(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
