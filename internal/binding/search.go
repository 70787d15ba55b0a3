package binding

import (
	"context"
	"errors"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Reason codes of search credentials (besides the envelope's and the token
// verifier's own codes).
const (
	// ReasonMissingCredentials: a search request with neither a search
	// envelope nor a bearer token (KindRejected).
	ReasonMissingCredentials = "missing_credentials"
	// ReasonAmbiguousCredentials: both were presented; a request names its
	// tenant exactly once (KindRejected).
	ReasonAmbiguousCredentials = "ambiguous_credentials"
	// ReasonNoTokenVerifier: a bearer token, but no OIDC issuer configured
	// (KindRejected).
	ReasonNoTokenVerifier = "oidc_not_configured" //nolint:gosec // a reason code, not a credential
	// ReasonInvalidToken: a token refused by a verifier that gave no more
	// specific code (KindRejected).
	ReasonInvalidToken = "invalid_token"
)

// TokenVerifier verifies an OIDC bearer token and mints the Scope of the
// tenant it names (*OIDC). Its failures are *Error values.
type TokenVerifier interface {
	Verify(ctx context.Context, raw, requestID string) (tenantdb.Scope, error)
}

// Search establishes the tenant of a search request (the search API, the
// CLI): from a tenantry envelope that authorises exactly "search", or from
// an OIDC token whose issuer, audience, expiry and tenant claim verify.
type Search struct {
	Envelopes *envelope.Verifier // nil: envelopes are refused
	Tokens    TokenVerifier      // nil: bearer tokens are refused
}

// Resolve returns the verified Scope of exactly one credential. Every
// refusal is an *Error (KindRejected or KindUnavailable).
func (s *Search) Resolve(ctx context.Context, envelopeToken, bearer, requestID string) (tenantdb.Scope, error) {
	switch {
	case envelopeToken == "" && bearer == "":
		return tenantdb.Scope{}, &Error{Kind: KindRejected, Code: ReasonMissingCredentials, Err: errors.New("no search envelope and no bearer token")}
	case envelopeToken != "" && bearer != "":
		return tenantdb.Scope{}, &Error{Kind: KindRejected, Code: ReasonAmbiguousCredentials, Err: errors.New("both a search envelope and a bearer token")}
	case envelopeToken != "":
		if s.Envelopes == nil {
			return tenantdb.Scope{}, &Error{Kind: KindRejected, Code: ReasonMissingEnvelope, Err: errors.New("envelopes not accepted")}
		}
		v, err := (&Resolver{Verifier: s.Envelopes}).Search(ctx, envelopeToken) // the one envelope rule for search
		if err != nil {
			return tenantdb.Scope{}, err
		}
		return v.Scope.WithJob(requestID), nil
	}
	if s.Tokens == nil {
		return tenantdb.Scope{}, &Error{Kind: KindRejected, Code: ReasonNoTokenVerifier, Err: errors.New("bearer tokens not accepted")}
	}
	scope, err := s.Tokens.Verify(ctx, bearer, requestID)
	if err != nil {
		var be *Error
		if errors.As(err, &be) {
			return tenantdb.Scope{}, be
		}
		return tenantdb.Scope{}, &Error{Kind: KindRejected, Code: ReasonInvalidToken, Err: err}
	}
	return scope, nil
}
