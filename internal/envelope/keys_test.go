package envelope_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/tenantry/tenantry/internal/envelope"
)

func TestJWKSRoundTrip(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	data := k.JWKS(t)
	if strings.Contains(string(data), `"d"`) {
		t.Fatal("JWKS contains private key material")
	}
	ring, skipped, err := envelope.ParseJWKS(data, envelope.JWKSLimits{})
	if err != nil || skipped != 0 {
		t.Fatalf("ParseJWKS: %v, skipped %d", err, skipped)
	}
	for _, want := range k.Ring.Keys() {
		got, err := ring.PublicKey(context.Background(), want.KeyID)
		if err != nil || got.Algorithm != want.Algorithm {
			t.Fatalf("key %s: %+v, %v", want.KeyID, got, err)
		}
	}
}

func jwkJSON(t *testing.T, key any, kid, alg, use string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	es := k.ES256.PublicKey()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	set := func(keys ...json.RawMessage) []byte {
		b, _ := json.Marshal(map[string]any{"keys": keys})
		return b
	}
	signer, err := envelope.GenerateKey(envelope.AlgES256, "priv")
	if err != nil {
		t.Fatal(err)
	}
	privJWK, _ := signer.MarshalJWK()
	priv := set(privJWK)
	tests := []struct {
		name    string
		data    []byte
		limits  envelope.JWKSLimits
		keys    int
		skipped int
		wantErr bool
	}{
		{"one ES256", set(jwkJSON(t, es.Key, "a", "", "")), envelope.JWKSLimits{}, 1, 0, false},
		{"RSA and P-384 skipped", set(jwkJSON(t, &rsaKey.PublicKey, "r", "RS256", "sig"), jwkJSON(t, &p384.PublicKey, "p", "", ""), jwkJSON(t, es.Key, "a", "ES256", "sig")), envelope.JWKSLimits{}, 1, 2, false},
		{"use=enc skipped", set(jwkJSON(t, es.Key, "e", "", "enc"), jwkJSON(t, k.EdDSA.PublicKey().Key, "d", "EdDSA", "")), envelope.JWKSLimits{}, 1, 1, false},
		{"alg not fitting key skipped", set(jwkJSON(t, es.Key, "x", "ECDH-ES", ""), jwkJSON(t, es.Key, "y", "", "")), envelope.JWKSLimits{}, 1, 1, false},
		{"private key reduced to public", priv, envelope.JWKSLimits{}, 1, 0, false},
		{"no usable key", set(jwkJSON(t, &rsaKey.PublicKey, "r", "", "")), envelope.JWKSLimits{}, 0, 0, true},
		{"missing kid", set(jwkJSON(t, es.Key, "", "", "")), envelope.JWKSLimits{}, 0, 0, true},
		{"duplicate kid", set(jwkJSON(t, es.Key, "a", "", ""), jwkJSON(t, k.EdDSA.PublicKey().Key, "a", "", "")), envelope.JWKSLimits{}, 0, 0, true},
		{"too many keys", set(jwkJSON(t, es.Key, "a", "", ""), jwkJSON(t, es.Key, "b", "", "")), envelope.JWKSLimits{MaxKeys: 1}, 0, 0, true},
		{"too many bytes", set(jwkJSON(t, es.Key, "a", "", "")), envelope.JWKSLimits{MaxBytes: 50}, 0, 0, true},
		{"not JSON", []byte("<html>"), envelope.JWKSLimits{}, 0, 0, true},
		{"off-curve point", []byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AQ","y":"AQ"}]}`), envelope.JWKSLimits{}, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ring, skipped, err := envelope.ParseJWKS(tt.data, tt.limits)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if ring.Len() != tt.keys || skipped != tt.skipped {
				t.Fatalf("keys %d skipped %d, want %d %d", ring.Len(), skipped, tt.keys, tt.skipped)
			}
		})
	}
}

func TestKeyRing(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	if _, err := envelope.NewKeyRing(k.ES256.PublicKey(), k.ES256.PublicKey()); err == nil {
		t.Fatal("duplicate kid accepted")
	}
	bad := k.ES256.PublicKey()
	bad.Algorithm = envelope.AlgEdDSA
	if _, err := envelope.NewKeyRing(bad); err == nil {
		t.Fatal("algorithm not matching the key accepted")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := envelope.NewPublicKey("x", &p384.PublicKey); err == nil {
		t.Fatal("P-384 accepted")
	}
	if _, err := envelope.NewPublicKey("", k.ES256.PublicKey().Key); err == nil {
		t.Fatal("empty kid accepted")
	}
	if _, err := k.Ring.PublicKey(context.Background(), "nope"); !errors.Is(err, envelope.ErrUnknownKey) {
		t.Fatalf("unknown kid: %v", err)
	}
}

type mapSource map[string]envelope.PublicKey

func (m mapSource) PublicKey(_ context.Context, kid string) (envelope.PublicKey, error) {
	if k, ok := m[kid]; ok {
		return k, nil
	}
	return envelope.PublicKey{}, envelope.ErrUnknownKey
}

func TestCombine(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	a := mapSource{"a": k.ES256.PublicKey()}
	b := mapSource{"b": k.EdDSA.PublicKey()}
	ctx := context.Background()
	tests := []struct {
		name    string
		src     envelope.KeySource
		kid     string
		wantErr error
	}{
		{"first source", envelope.Combine(a, b), "a", nil},
		{"second source", envelope.Combine(a, b), "b", nil},
		{"nowhere", envelope.Combine(a, b), "c", envelope.ErrUnknownKey},
		{"found despite a failing source", envelope.Combine(failingSource{}, b), "b", nil},
		{"not found and a source failed: retry, not unknown", envelope.Combine(a, failingSource{}), "c", errConnRefused},
		{"empty", envelope.Combine(), "a", envelope.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.src.PublicKey(ctx, tt.kid)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatal(err)
			case errors.Is(tt.wantErr, envelope.ErrUnknownKey) && !errors.Is(err, envelope.ErrUnknownKey):
				t.Fatalf("err = %v", err)
			case errors.Is(tt.wantErr, errConnRefused) && (err == nil || errors.Is(err, envelope.ErrUnknownKey)):
				t.Fatalf("err = %v", err)
			}
		})
	}
}

var errConnRefused = errors.New("sentinel for the test table")
