package envelope_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
)

// TestKeyFiles: a key written by keygen (PEM or JWK) loads back, keeps its
// kid, and its envelopes verify with the published public key.
func TestKeyFiles(t *testing.T) {
	t.Parallel()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	for _, alg := range []string{envelope.AlgES256, envelope.AlgEdDSA} {
		for _, form := range []string{"pem", "jwk"} {
			t.Run(alg+"/"+form, func(t *testing.T) {
				t.Parallel()
				orig, err := envelope.GenerateKey(alg, "")
				if err != nil {
					t.Fatal(err)
				}
				var data []byte
				if form == "pem" {
					data, err = orig.MarshalPEM()
				} else {
					data, err = orig.MarshalJWK()
				}
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(t.TempDir(), "key."+form)
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				loaded, err := envelope.LoadKeySigner(path, "")
				if err != nil {
					t.Fatal(err)
				}
				if loaded.KeyID() != orig.KeyID() || loaded.Algorithm() != alg {
					t.Fatalf("kid %q alg %q, want %q %q", loaded.KeyID(), loaded.Algorithm(), orig.KeyID(), alg)
				}
				ring, err := envelope.NewKeyRing(orig.PublicKey())
				if err != nil {
					t.Fatal(err)
				}
				signAndVerify(t, loaded, ring)
			})
		}
	}
	t.Run("SEC1 PEM with explicit kid", func(t *testing.T) {
		t.Parallel()
		s, err := envelope.ParseKeySigner(sec1PEM, "ops-2026-03")
		if err != nil || s.KeyID() != "ops-2026-03" || s.Algorithm() != envelope.AlgES256 {
			t.Fatalf("%v %v", s, err)
		}
	})
}

func signAndVerify(t *testing.T, s envelope.Signer, keys envelope.KeySource) {
	t.Helper()
	tenant := uuid.New()
	iss, err := envelope.NewIssuer(s, envelope.IssuerConfig{Issuer: "https://i", Audience: "a"})
	if err != nil {
		t.Fatal(err)
	}
	key := tenant.String() + "/d/f.txt"
	tok, _, err := iss.Object(context.Background(), tenant, "user:1", "b", key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := envelope.NewVerifier(envelope.Config{Audience: "a", Issuers: []string{"https://i"}, Keys: keys}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.VerifyObject(context.Background(), tok, "b", key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Scope.TenantID() != tenant {
		t.Fatal("wrong tenant")
	}
}

func TestParseKeySignerRefuses(t *testing.T) {
	t.Parallel()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	pubDER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	s, _ := envelope.GenerateKey(envelope.AlgES256, "k")
	pubJWK, _ := s.PublicKey().JWK().MarshalJSON()
	tests := []struct {
		name string
		data []byte
	}{
		{"RSA", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})},
		{"P-384", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER})},
		{"public key PEM", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})},
		{"public JWK", pubJWK},
		{"garbage PEM", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")})},
		{"not a key", []byte("hello")},
		{"HMAC JWK", []byte(`{"kty":"oct","k":"c2VjcmV0"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := envelope.ParseKeySigner(tt.data, ""); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := envelope.GenerateKey("RS256", ""); err == nil {
		t.Fatal("GenerateKey(RS256) accepted")
	}
}

func TestSignerRefusesBadClaimsAndSize(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	tenant := uuid.New()
	c := k.ObjectClaims(tenant, "b", tenant.String()+"/d/k")
	c.TenantID = uuid.Nil
	if _, err := k.ES256.Sign(context.Background(), c); err == nil {
		t.Fatal("signed claims without tenant")
	}
	c = k.ObjectClaims(tenant, "b", tenant.String()+"/d/k")
	c.Resource = envelope.DocumentResource(strings.Repeat("k", 1000))
	if _, err := k.ES256.Sign(context.Background(), c); !errors.Is(err, envelope.ErrTokenTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}

func TestThumbprintIsDefaultKid(t *testing.T) {
	t.Parallel()
	// RFC 8037 appendix A.3: the thumbprint of the appendix A.2 Ed25519 key.
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	tp, err := envelope.Thumbprint(ed25519.PublicKey(x))
	if err != nil || tp != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Fatalf("thumbprint %q (%v)", tp, err)
	}
	k := newKit(t)
	if tp, _ := envelope.Thumbprint(k.ES256.PublicKey().Key); tp != k.ES256.KeyID() {
		t.Fatalf("default kid %q is not the thumbprint %q", k.ES256.KeyID(), tp)
	}
}
