package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap"
	"golang.org/x/oauth2"
)

// Sign-in refusal codes (logged, and shown to the user).
const (
	RefusedState        = "invalid_state"
	RefusedExchange     = "code_exchange_failed"
	RefusedExpired      = "expired"
	RefusedIssuer       = "foreign_issuer"
	RefusedToken        = "invalid_token"
	RefusedNonce        = "nonce_mismatch"
	RefusedNoRole       = "no_role"
	RefusedIssuerFailed = "issuer_error"
)

type authenticator struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	client   *http.Client
}

func newAuthenticator(ctx context.Context, cfg Config) (*authenticator, error) {
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, cfg.OIDC.HTTPClient), 30*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, cfg.OIDC.Issuer)
	if err != nil {
		return nil, fmt.Errorf("console: oidc discovery of %s: %w", cfg.OIDC.Issuer, err)
	}
	// The key set refreshes with this context: keep the client, drop the deadline.
	kctx := oidc.ClientContext(context.WithoutCancel(ctx), cfg.OIDC.HTTPClient)
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return nil, fmt.Errorf("console: oidc discovery of %s: no jwks_uri", cfg.OIDC.Issuer)
	}
	v := oidc.NewVerifier(cfg.OIDC.Issuer, oidc.NewRemoteKeySet(kctx, meta.JWKSURI), &oidc.Config{
		ClientID:             cfg.OIDC.ClientID,
		SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256},
		Now:                  cfg.Now,
	})
	return &authenticator{
		oauth: oauth2.Config{
			ClientID: cfg.OIDC.ClientID, ClientSecret: cfg.OIDC.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: strings.TrimSuffix(cfg.BaseURL, "/") + "/callback",
			Scopes:      []string{oidc.ScopeOpenID, "email", "profile"},
		},
		verifier: v, client: cfg.OIDC.HTTPClient,
	}, nil
}

// login starts the authorization code flow with PKCE (S256), a state bound
// to this browser by a short-lived cookie, and a nonce.
func (srv *Server) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	srv.sessions.begin(state, pending{verifier: verifier, nonce: nonce, expires: srv.cfg.Now().Add(10 * time.Minute)})
	// Lax, not Strict: the issuer's redirect back is a cross-site navigation.
	srv.setCookie(w, srv.loginCookie(), state, 600, http.SameSiteLaxMode)
	http.Redirect(w, r, srv.auth.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// callback finishes the flow: the state must be this browser's, the code is
// exchanged with the PKCE verifier, and the ID token must verify (signature
// against the issuer's JWKS, exact issuer, audience, expiry, nonce) and
// carry a group that maps to a role.
func (srv *Server) callback(w http.ResponseWriter, r *http.Request) {
	now := srv.cfg.Now()
	state := r.URL.Query().Get("state")
	c, err := r.Cookie(srv.loginCookie())
	srv.setCookie(w, srv.loginCookie(), "", -1, http.SameSiteLaxMode)
	p, ok := srv.sessions.finish(state, now)
	if err != nil || state == "" || c.Value != state || !ok {
		srv.refuse(w, r, RefusedState, "the sign-in request is unknown, expired or from another browser")
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		srv.refuse(w, r, RefusedIssuerFailed, "the issuer refused the sign-in")
		return
	}
	ctx := oidc.ClientContext(r.Context(), srv.auth.client)
	tok, err := srv.auth.oauth.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		srv.log.Info("console: code exchange failed", zap.Error(err))
		srv.refuse(w, r, RefusedExchange, "the authorization code could not be exchanged")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := srv.auth.verifier.Verify(ctx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		switch {
		case errors.As(err, &exp):
			srv.refuse(w, r, RefusedExpired, "the ID token has expired")
		case strings.Contains(err.Error(), "issued by a different provider"):
			srv.refuse(w, r, RefusedIssuer, "the ID token was issued by another issuer")
		default:
			srv.log.Info("console: id token refused", zap.Error(err))
			srv.refuse(w, r, RefusedToken, "the ID token did not verify")
		}
		return
	}
	if idt.Nonce != p.nonce {
		srv.refuse(w, r, RefusedNonce, "the ID token does not answer this sign-in")
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		srv.refuse(w, r, RefusedToken, "the ID token's claims are not a JSON object")
		return
	}
	groups := stringList(claims[srv.cfg.OIDC.GroupsClaim])
	role := srv.cfg.OIDC.role(groups)
	if role == "" {
		srv.refuse(w, r, RefusedNoRole, "your groups grant no console role")
		return
	}
	name, _ := claims["email"].(string)
	if name == "" {
		name = idt.Subject
	}
	expires := now.Add(srv.cfg.SessionTTL)
	if idt.Expiry.Before(expires) {
		expires = idt.Expiry // never beyond the token (the verifier refused an expired one)
	}
	id := srv.sessions.put(&session{Subject: idt.Subject, Name: name, Role: role, CSRF: randomToken(), Expires: expires})
	srv.setCookie(w, srv.sessionCookie(), id, int(expires.Sub(now).Seconds()), http.SameSiteStrictMode)
	srv.log.Info("console: signed in", zap.String("actor", "console:"+name), zap.String("role", role))
	// A same-site page continues to the console: a Strict cookie set during a
	// cross-site redirect is not sent on that redirect's next hop.
	srv.render(w, r, http.StatusOK, "continue", nil, nil)
}

func (srv *Server) logout(w http.ResponseWriter, r *http.Request) {
	sess, id := srv.current(r)
	if sess == nil || !srv.csrfOK(r, sess) {
		srv.forbidden(w, r, "csrf", "missing or wrong CSRF token")
		return
	}
	srv.sessions.drop(id)
	srv.setCookie(w, srv.sessionCookie(), "", -1, http.SameSiteStrictMode)
	http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
}

func (srv *Server) refuse(w http.ResponseWriter, r *http.Request, code, msg string) {
	srv.log.Info("console: sign-in refused", zap.String("reason", code))
	srv.render(w, r, http.StatusUnauthorized, "refused", nil, map[string]any{"Code": code, "Message": msg})
}

func stringList(v any) []string {
	switch t := v.(type) {
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string: // some issuers send one group as a string
		return []string{t}
	}
	return nil
}
