package binding

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/tenantry/tenantry/internal/envelope"
)

// Reason codes of a refused operator sign-in besides the token codes above
// (missing_token, foreign_issuer, expired, bad_signature, malformed).
const (
	// ReasonNonceMismatch: the ID token does not answer this sign-in.
	ReasonNonceMismatch = "nonce_mismatch"
	// ReasonExpiredToken is envelope.ReasonExpired, named for callers.
	ReasonExpiredToken = string(envelope.ReasonExpired)
)

// OperatorConfig configures the verifier of operators' ID tokens (the
// operator console's sign-in).
type OperatorConfig struct {
	Issuer   string // exact issuer URL. Required.
	ClientID string // the console's app client id: the token's aud. Required.
	// GroupsClaim names the claim listing the operator's groups (default
	// "groups"; Cognito: "cognito:groups").
	GroupsClaim string
	HTTPClient  *http.Client // default: 10 s timeout
	Now         func() time.Time
}

// Operator is a verified operator identity. It is never a tenant scope:
// an operator acts on a tenant only through an operator envelope
// (Resolver.Operator).
type Operator struct {
	Subject string
	Email   string
	Groups  []string
	Expiry  time.Time
}

// OperatorTokens verifies operators' OIDC ID tokens: signature against the
// issuer's JWKS (found through discovery), exact issuer, audience, expiry
// and the sign-in's nonce. Safe for concurrent use.
type OperatorTokens struct {
	cfg      OperatorConfig
	v        *oidc.IDTokenVerifier
	endpoint struct{ auth, token string }
}

// NewOperatorTokens discovers the issuer.
func NewOperatorTokens(ctx context.Context, cfg OperatorConfig) (*OperatorTokens, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, errors.New("binding: operator tokens: Issuer and ClientID are required")
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, cfg.HTTPClient), 30*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("binding: oidc: discovery of %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return nil, fmt.Errorf("binding: oidc: discovery of %s: no jwks_uri", cfg.Issuer)
	}
	kctx := oidc.ClientContext(context.WithoutCancel(ctx), cfg.HTTPClient)
	t := &OperatorTokens{cfg: cfg, v: oidc.NewVerifier(cfg.Issuer, oidc.NewRemoteKeySet(kctx, meta.JWKSURI), &oidc.Config{
		ClientID: cfg.ClientID, SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256}, Now: cfg.Now,
	})}
	t.endpoint.auth, t.endpoint.token = p.Endpoint().AuthURL, p.Endpoint().TokenURL
	return t, nil
}

// Endpoints are the issuer's authorization and token endpoints.
func (o *OperatorTokens) Endpoints() (authURL, tokenURL string) {
	return o.endpoint.auth, o.endpoint.token
}

// Identify verifies raw, an ID token that must answer the sign-in with
// nonce, and returns the operator. Every failure is an *Error
// (KindRejected with a reason code, or KindUnavailable).
func (o *OperatorTokens) Identify(ctx context.Context, raw, nonce string) (Operator, error) {
	if raw == "" {
		return Operator{}, refused(ReasonMissingToken, errors.New("no ID token"))
	}
	if iss, ok := unverifiedIssuer(raw); !ok {
		return Operator{}, refused(string(envelope.ReasonMalformed), errors.New("not a signed JWT"))
	} else if iss != o.cfg.Issuer {
		return Operator{}, refused(ReasonForeignIssuer, errors.New("token of another issuer"))
	}
	tok, err := o.v.Verify(oidc.ClientContext(ctx, o.cfg.HTTPClient), raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		switch {
		case errors.As(err, &exp):
			return Operator{}, refused(string(envelope.ReasonExpired), errors.New("token expired"))
		case ctx.Err() != nil:
			return Operator{}, &Error{Kind: KindUnavailable, Code: ReasonKeysUnavailable, Err: ctx.Err()}
		case strings.Contains(err.Error(), "fetching keys"):
			return Operator{}, &Error{Kind: KindUnavailable, Code: ReasonKeysUnavailable, Err: errors.New("issuer keys unavailable")}
		case strings.Contains(err.Error(), "audience"):
			return Operator{}, refused(string(envelope.ReasonWrongAudience), errors.New("token is for another client"))
		}
		return Operator{}, refused(string(envelope.ReasonBadSignature), errors.New("signature, key or algorithm not accepted"))
	}
	if nonce == "" || tok.Nonce != nonce {
		return Operator{}, refused(ReasonNonceMismatch, errors.New("token does not answer this sign-in"))
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Operator{}, refused(string(envelope.ReasonMalformed), errors.New("claims are not a JSON object"))
	}
	op := Operator{Subject: tok.Subject, Groups: stringList(claims[o.cfg.GroupsClaim]), Expiry: tok.Expiry}
	op.Email, _ = claims["email"].(string)
	return op, nil
}

// stringList reads a claim holding a list of strings (or one string).
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
	case string:
		return []string{t}
	}
	return nil
}
