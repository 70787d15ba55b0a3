package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/tenantry/tenantry/internal/binding"
)

// Sign-in refusal codes (logged, and shown to the user). A refused ID
// token shows the gate's reason code (binding: expired, foreign_issuer,
// bad_signature, wrong_audience, nonce_mismatch, ...).
const (
	RefusedState        = "invalid_state"
	RefusedExchange     = "code_exchange_failed"
	RefusedExpired      = binding.ReasonExpiredToken
	RefusedIssuer       = binding.ReasonForeignIssuer
	RefusedToken        = binding.ReasonInvalidToken
	RefusedNoRole       = "no_role"
	RefusedIssuerFailed = "issuer_error"
)

type authenticator struct {
	oauth  oauth2.Config
	tokens *binding.OperatorTokens // the gate's verifier of operators' ID tokens
	client *http.Client
}

func newAuthenticator(ctx context.Context, cfg Config) (*authenticator, error) {
	tokens, err := binding.NewOperatorTokens(ctx, binding.OperatorConfig{Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID,
		GroupsClaim: cfg.OIDC.GroupsClaim, HTTPClient: cfg.OIDC.HTTPClient, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	authURL, tokenURL := tokens.Endpoints()
	return &authenticator{
		oauth: oauth2.Config{
			ClientID: cfg.OIDC.ClientID, ClientSecret: cfg.OIDC.ClientSecret,
			Endpoint:    oauth2.Endpoint{AuthURL: authURL, TokenURL: tokenURL},
			RedirectURL: strings.TrimSuffix(cfg.BaseURL, "/") + "/callback",
			Scopes:      []string{"openid", "email", "profile"},
		},
		tokens: tokens, client: cfg.OIDC.HTTPClient,
	}, nil
}

// login starts the authorization code flow with PKCE (S256), a state bound
// to this browser by a short-lived cookie, and a nonce.
func (srv *Server) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	srv.sessions.begin(state, pending{verifier: verifier, nonce: nonce, expires: srv.cfg.Now().Add(10 * time.Minute)})
	// Lax, not Strict: the issuer's redirect back is a cross-site navigation.
	srv.setCookie(w, srv.loginCookie(), state, 600, http.SameSiteLaxMode)
	http.Redirect(w, r, srv.auth.oauth.AuthCodeURL(state, oauth2.SetAuthURLParam("nonce", nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
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
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, srv.auth.client)
	tok, err := srv.auth.oauth.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		srv.log.Info("console: code exchange failed", zap.Error(err))
		srv.refuse(w, r, RefusedExchange, "the authorization code could not be exchanged")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	op, err := srv.auth.tokens.Identify(ctx, raw, p.nonce)
	if err != nil {
		code := RefusedToken
		var be *binding.Error
		if errors.As(err, &be) {
			code = be.Code
		}
		srv.refuse(w, r, code, "the ID token was refused")
		return
	}
	role := srv.cfg.OIDC.role(op.Groups)
	if role == "" {
		srv.refuse(w, r, RefusedNoRole, "your groups grant no console role")
		return
	}
	name := op.Email
	if name == "" {
		name = op.Subject
	}
	expires := now.Add(srv.cfg.SessionTTL)
	if op.Expiry.Before(expires) {
		expires = op.Expiry // never beyond the token (the gate refused an expired one)
	}
	id := srv.sessions.put(&session{Subject: op.Subject, Name: name, Role: role, CSRF: randomToken(), Expires: expires}, now)
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
