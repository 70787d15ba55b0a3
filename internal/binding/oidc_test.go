package binding_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/devissuer"
)

// issuer starts a dev issuer on an httptest server.
func issuer(t *testing.T) *devissuer.Issuer {
	t.Helper()
	var iss *devissuer.Issuer
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	iss, err := devissuer.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = iss.Handler()
	return iss
}

func sign(t *testing.T, i *devissuer.Issuer, tok devissuer.Token) string {
	t.Helper()
	s, err := i.Sign(tok)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := issuer(t)
	foreign := issuer(t)
	impostor, err := devissuer.New(good.URL) // same issuer URL, its own key: a forgery
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.NewString()
	v, err := binding.NewOIDC(ctx, binding.OIDCConfig{Issuer: good.URL, Audience: "app-client"})
	if err != nil {
		t.Fatal(err)
	}
	vAccess, err := binding.NewOIDC(ctx, binding.OIDCConfig{Issuer: good.URL, Audience: "app-client", TokenUse: "access"})
	if err != nil {
		t.Fatal(err)
	}
	idTok := devissuer.Token{Subject: "alice", Audience: "app-client", TokenUse: "id", Tenant: tenant}
	accessTok := devissuer.Token{Subject: "alice", ClientID: "app-client", TokenUse: "access", Tenant: tenant}
	with := func(f func(*devissuer.Token)) devissuer.Token { c := idTok; f(&c); return c }

	for _, tc := range []struct {
		name   string
		v      *binding.OIDC
		token  string
		reason string
	}{
		{"id token", v, sign(t, good, idTok), ""},
		{"cognito access token", v, sign(t, good, accessTok), ""},
		{"access token required and given", vAccess, sign(t, good, accessTok), ""},
		{"id token where access required", vAccess, sign(t, good, idTok), binding.ReasonWrongTokenUse},
		{"missing", v, "", binding.ReasonMissingToken},
		{"garbage", v, "not-a-jwt", "malformed"},
		{"forged (same issuer, other key)", v, sign(t, impostor, idTok), "bad_signature"},
		{"foreign issuer", v, sign(t, foreign, idTok), binding.ReasonForeignIssuer},
		{"foreign key claiming our issuer", v, sign(t, foreign, with(func(k *devissuer.Token) { k.Issuer = good.URL })), "bad_signature"},
		{"expired", v, sign(t, good, with(func(k *devissuer.Token) { k.ExpiresIn = -time.Minute })), "expired"},
		{"other audience", v, sign(t, good, with(func(k *devissuer.Token) { k.Audience = "other-app" })), "wrong_audience"},
		{"access token of another client", v, sign(t, good, devissuer.Token{Subject: "a", ClientID: "other", TokenUse: "access", Tenant: tenant}), "wrong_audience"},
		{"no tenant claim", v, sign(t, good, with(func(k *devissuer.Token) { k.Tenant = "" })), binding.ReasonNoTenant},
		{"tenant claim under another name", v, sign(t, good, with(func(k *devissuer.Token) { k.TenantClaim = "tenant_id" })), binding.ReasonNoTenant},
		{"tenant not a uuid", v, sign(t, good, with(func(k *devissuer.Token) { k.Tenant = "acme" })), binding.ReasonNoTenant},
		{"alg none", v, unsigned(good.URL, tenant), "bad_signature"},
		{"HS256 with a guessable secret", v, hmacToken(t, good.URL, tenant), "bad_signature"},
		{"tampered payload", v, tamper(sign(t, good, idTok), uuid.NewString()), "bad_signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			scope, err := tc.v.Verify(ctx, tc.token, "req-1")
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if scope.TenantID().String() != tenant || scope.Actor() != "oidc:alice" || scope.JobID() != "req-1" {
					t.Fatalf("scope %v actor %q job %q", scope, scope.Actor(), scope.JobID())
				}
				return
			}
			if got := codeOf(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
			if !scope.IsZero() {
				t.Fatal("a refused token minted a scope")
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Fatal("error carries the token")
			}
		})
	}
}

func TestConfigRefusesSymmetricAlgorithms(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"HS256", "none"} {
		if _, err := binding.NewOIDC(context.Background(), binding.OIDCConfig{Issuer: "http://x", Audience: "a", Algorithms: []string{alg}}); err == nil {
			t.Errorf("%s accepted", alg)
		}
	}
}

func unsigned(iss, tenant string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		enc([]byte(`{"iss":"`+iss+`","sub":"alice","aud":"app-client","exp":9999999999,"custom:tenant_id":"`+tenant+`"}`)) + "."
}

func hmacToken(t *testing.T, iss, tenant string) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("app-client-secret-000000000000000")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(map[string]any{"iss": iss, "sub": "alice", "aud": "app-client",
		"exp": time.Now().Add(time.Hour).Unix(), "custom:tenant_id": tenant}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tamper swaps the tenant in a signed token's payload, keeping the signature.
func tamper(tok, tenant string) string {
	parts := strings.Split(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	i := strings.Index(string(b), `"custom:tenant_id":"`) + len(`"custom:tenant_id":"`)
	b = []byte(string(b[:i]) + tenant + string(b[i+36:]))
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// Keys that cannot be fetched are "try later" (503 in the API), not a
// verdict on the token; told apart by type, not by error text. A key set
// that is served but does not hold the token's key is a verdict.
func TestKeysUnavailable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		jwks  func(w http.ResponseWriter) // nil: the issuer's own key set
		down  bool                        // the issuer stops after discovery
		forge bool                        // the token is signed by another key
		want  string
	}{
		{name: "issuer down", down: true, want: binding.ReasonKeysUnavailable},
		{name: "key set answers 500", jwks: func(w http.ResponseWriter) { http.Error(w, "boom", 500) }, want: binding.ReasonKeysUnavailable},
		{name: "key set answers 404", jwks: func(w http.ResponseWriter) { http.NotFound(w, nil) }, want: binding.ReasonKeysUnavailable},
		{name: "key set is not JSON", jwks: func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html>maintenance</html>")) }, want: binding.ReasonKeysUnavailable},
		{name: "key set too large", jwks: func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"keys":[],"x":"` + strings.Repeat("a", 1<<20) + `"}`))
		}, want: binding.ReasonKeysUnavailable},
		{name: "served key set without the token's key", forge: true, want: "bad_signature"},
		{name: "served key set that is empty", jwks: func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"keys":[]}`)) }, want: "bad_signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewUnstartedServer(nil)
			srv.Start()
			defer srv.Close()
			iss, err := devissuer.New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			own := iss.Handler()
			srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/jwks.json" && tc.jwks != nil {
					tc.jwks(w)
					return
				}
				own.ServeHTTP(w, r)
			})
			v, err := binding.NewOIDC(context.Background(), binding.OIDCConfig{Issuer: iss.URL, Audience: "app"})
			if err != nil {
				t.Fatal(err)
			}
			signer := iss
			if tc.forge {
				if signer, err = devissuer.New(iss.URL); err != nil {
					t.Fatal(err)
				}
			}
			tok := sign(t, signer, devissuer.Token{Subject: "a", Audience: "app", TokenUse: "id", Tenant: uuid.NewString()})
			if tc.down {
				srv.Close() // discovery done, JWKS not fetched yet
			}
			_, err = v.Verify(context.Background(), tok, "r")
			var be *binding.Error
			if !errors.As(err, &be) || be.Code != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			if unavailable := be.Kind == binding.KindUnavailable; unavailable != (tc.want == binding.ReasonKeysUnavailable) {
				t.Fatalf("kind %v for reason %s", be.Kind, be.Code)
			}
		})
	}
}

// codeOf is the reason code of a *binding.Error ("" for anything else).
func codeOf(err error) string {
	var be *binding.Error
	if errors.As(err, &be) {
		return be.Code
	}
	return ""
}
