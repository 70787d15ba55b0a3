// Package devissuer is a minimal OpenID Connect issuer for tests and the
// local demo: it serves real discovery (/.well-known/openid-configuration)
// and a JWKS (/jwks.json) for an ECDSA P-256 key it generates, and signs
// tokens shaped like Amazon Cognito's (token_use, client_id, custom claims,
// a groups claim). It also serves a browser login (authorization code flow
// with PKCE S256, a user picker instead of a password: AddUser, AddClient)
// for the operator console. It must never run outside tests, `make demo` and
// `make console` (loopback only).
package devissuer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer signs tokens and serves its keys. Mount Handler at the issuer URL.
type Issuer struct {
	URL string // the issuer identifier, e.g. http://127.0.0.1:port
	key *ecdsa.PrivateKey
	kid string

	login login
}

// New returns an issuer for url with a fresh key.
func New(url string) (*Issuer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &Issuer{URL: url, key: k, kid: fmt.Sprintf("dev-%x", b)}, nil
}

// Handler serves discovery and the JWKS.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": i.URL, "jwks_uri": i.URL + "/jwks.json",
			"authorization_endpoint": i.URL + "/authorize", "token_endpoint": i.URL + "/token",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"code_challenge_methods_supported":      []string{"S256"},
			"id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", i.authorize)
	mux.HandleFunc("POST /authorize", i.authorize)
	mux.HandleFunc("POST /token", i.token)
	return mux
}

// Token describes a token to sign.
type Token struct {
	Subject  string
	Audience string // aud (ID tokens); empty for access tokens
	ClientID string // client_id (Cognito access tokens)
	TokenUse string // "id" or "access"
	Tenant   string // the tenant claim's value
	// TenantClaim names it (default "custom:tenant_id").
	TenantClaim string
	// Issuer overrides the issuer (to forge a foreign one); default URL.
	Issuer    string
	ExpiresIn time.Duration // default 5 minutes; negative: already expired
	Groups    []string      // the groups claim, if any
	Nonce     string        // the nonce claim, if any
	Email     string        // the email claim, if any
}

// Sign returns a compact ES256 JWT for t.
func (i *Issuer) Sign(t Token) (string, error) {
	if t.TenantClaim == "" {
		t.TenantClaim = "custom:tenant_id"
	}
	if t.Issuer == "" {
		t.Issuer = i.URL
	}
	if t.ExpiresIn == 0 {
		t.ExpiresIn = 5 * time.Minute
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: i.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", i.kid))
	if err != nil {
		return "", err
	}
	now := time.Now()
	claims := map[string]any{
		"iss": t.Issuer, "sub": t.Subject, "iat": now.Unix(), "exp": now.Add(t.ExpiresIn).Unix(),
		"token_use": t.TokenUse,
	}
	if t.Audience != "" {
		claims["aud"] = t.Audience
	}
	if t.ClientID != "" {
		claims["client_id"] = t.ClientID
	}
	if t.Tenant != "" {
		claims[t.TenantClaim] = t.Tenant
	}
	if t.Groups != nil {
		claims["groups"] = t.Groups
	}
	if t.Nonce != "" {
		claims["nonce"] = t.Nonce
	}
	if t.Email != "" {
		claims["email"] = t.Email
	}
	return jwt.Signed(sig).Claims(claims).Serialize()
}
