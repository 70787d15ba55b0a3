package binding

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Reason codes of a refused bearer token besides the envelope's own
// (malformed, bad_signature, expired, wrong_audience): stable, they are API
// answers and security events.
const (
	ReasonMissingToken  = "missing_token"
	ReasonForeignIssuer = "foreign_issuer"
	ReasonWrongTokenUse = "wrong_token_use"
	ReasonNoTenant      = "no_tenant"
)

// refused is a rejected token. Its text never carries the token or its claims.
func refused(code string, err error) *Error {
	return &Error{Kind: KindRejected, Code: code, Err: err}
}

// OIDCConfig configures an OIDC token verifier.
type OIDCConfig struct {
	// Issuer is the exact issuer URL (for Cognito
	// https://cognito-idp.<region>.amazonaws.com/<user pool id>). Required.
	Issuer string
	// Audience is the app client id: a token's aud must contain it, or (a
	// Cognito access token, which has no aud) its client_id must equal it.
	// Required.
	Audience string
	// TenantClaim names the claim that holds the tenant id (default
	// "custom:tenant_id").
	TenantClaim string
	// TokenUse, if set ("id" or "access"), is required in the token_use claim.
	TokenUse string
	// Algorithms are the accepted signing algorithms (default RS256, ES256).
	Algorithms []string
	// HTTPClient fetches discovery and JWKS (default: 10 s timeout).
	HTTPClient *http.Client
	// Now is the clock (tests).
	Now    func() time.Time
	Logger *zap.Logger
}

func (c OIDCConfig) withDefaults() OIDCConfig {
	if c.TenantClaim == "" {
		c.TenantClaim = "custom:tenant_id"
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{oidc.RS256, oidc.ES256}
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

func (c OIDCConfig) validate() error {
	switch {
	case c.Issuer == "":
		return errors.New("binding: oidc: Issuer is required")
	case c.Audience == "":
		return errors.New("binding: oidc: Audience is required")
	case c.TokenUse != "" && c.TokenUse != "id" && c.TokenUse != "access":
		return errors.New(`binding: oidc: TokenUse must be "", "id" or "access"`)
	}
	for _, a := range c.Algorithms {
		if strings.HasPrefix(a, "HS") || a == "none" {
			return fmt.Errorf("binding: oidc: algorithm %s not allowed (tokens must be signed by the issuer's private key)", a)
		}
	}
	return nil
}

// OIDC verifies OIDC / Amazon Cognito bearer tokens (ID or access tokens)
// and mints the Scope of the tenant their tenant claim names: the gate's
// second credential besides the envelope (binding.Search uses it). A token
// counts only if its signature verifies against the issuer's JWKS (found
// through OIDC discovery), its issuer is exactly the configured one, it has
// not expired, it is meant for the configured audience (aud, or Cognito's
// client_id on access tokens), its token_use matches when one is required,
// and its tenant claim is a canonical UUID. Safe for concurrent use.
type OIDC struct {
	cfg OIDCConfig
	v   *oidc.IDTokenVerifier
}

// NewOIDC discovers the issuer (/.well-known/openid-configuration) and
// returns a verifier whose JWKS is fetched, cached and refreshed on unknown
// key ids.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
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
	// The key set keeps using this context to refresh keys: detach it from
	// the caller's deadline, keep the HTTP client (its transport marks a
	// failed fetch by type).
	kc := *cfg.HTTPClient
	kc.Transport = keysTransport{base: transportOr(cfg.HTTPClient.Transport)}
	kctx := oidc.ClientContext(context.WithoutCancel(ctx), &kc)
	keys := keySet{remote: oidc.NewRemoteKeySet(kctx, meta.JWKSURI)}
	v := oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{
		SkipClientIDCheck:    true, // checked below: aud or Cognito's client_id
		SupportedSigningAlgs: cfg.Algorithms,
		Now:                  cfg.Now,
	})
	return &OIDC{cfg: cfg, v: v}, nil
}

// Verify checks raw and mints the Scope of the tenant it names; actor is
// "oidc:<sub>", job id the caller's request id. Every failure is an *Error:
// KindRejected with its reason, or KindUnavailable when the issuer's keys
// could not be fetched.
func (v *OIDC) Verify(ctx context.Context, raw, requestID string) (tenantdb.Scope, error) {
	if raw == "" {
		return tenantdb.Scope{}, refused(ReasonMissingToken, errors.New("empty bearer token"))
	}
	// The issuer is read before the signature only to give a precise
	// reason; nothing else of an unverified payload is used.
	if iss, ok := unverifiedIssuer(raw); !ok {
		return tenantdb.Scope{}, refused(string(envelope.ReasonMalformed), errors.New("not a signed JWT"))
	} else if iss != v.cfg.Issuer {
		return tenantdb.Scope{}, refused(ReasonForeignIssuer, errors.New("token of another issuer"))
	}
	fetch := &keysFetch{}
	tok, err := v.v.Verify(context.WithValue(ctx, keysFetchKey{}, fetch), raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		switch {
		case errors.As(err, &exp):
			return tenantdb.Scope{}, refused(string(envelope.ReasonExpired), errors.New("token expired"))
		case ctx.Err() != nil:
			return tenantdb.Scope{}, &Error{Kind: KindUnavailable, Code: ReasonKeysUnavailable, Err: ctx.Err()}
		case fetch.err != nil:
			return tenantdb.Scope{}, &Error{Kind: KindUnavailable, Code: ReasonKeysUnavailable, Err: fetch.err}
		}
		v.cfg.Logger.Debug("binding: oidc: token did not verify", zap.Error(err))
		return tenantdb.Scope{}, refused(string(envelope.ReasonBadSignature), errors.New("signature, key or algorithm not accepted"))
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return tenantdb.Scope{}, refused(string(envelope.ReasonMalformed), errors.New("claims are not a JSON object"))
	}
	clientID, _ := claims["client_id"].(string)
	if !slices.Contains(tok.Audience, v.cfg.Audience) && !(len(tok.Audience) == 0 && clientID == v.cfg.Audience) {
		return tenantdb.Scope{}, refused(string(envelope.ReasonWrongAudience), errors.New("token is for another client"))
	}
	if v.cfg.TokenUse != "" {
		if use, _ := claims["token_use"].(string); use != v.cfg.TokenUse {
			return tenantdb.Scope{}, refused(ReasonWrongTokenUse, fmt.Errorf("token_use must be %s", v.cfg.TokenUse))
		}
	}
	ts, _ := claims[v.cfg.TenantClaim].(string)
	tenant, err := uuid.Parse(ts)
	if err != nil || tenant == uuid.Nil || len(ts) != 36 {
		return tenantdb.Scope{}, refused(ReasonNoTenant, fmt.Errorf("claim %s does not hold a tenant id", v.cfg.TenantClaim))
	}
	scope, err := tenantdb.MintVerified(tenant, "oidc:"+tok.Subject, requestID)
	if err != nil {
		return tenantdb.Scope{}, refused(string(envelope.ReasonMalformed), err)
	}
	return scope, nil
}

// unverifiedIssuer reads the iss claim of a compact JWS without verifying it.
func unverifiedIssuer(raw string) (string, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || len(raw) > 16<<10 {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil {
		return "", false
	}
	return c.Iss, true
}

// errKeysUnavailable marks a failed fetch of the issuer's key set: the
// request failed, the answer was not 200, or its body is not a JSON key set.
// go-oidc's verifier flattens its key set's errors into text, so the type is
// caught one level below it, in keySet.
var errKeysUnavailable = errors.New("issuer keys unavailable")

// maxKeySetBytes bounds a JWKS answer.
const maxKeySetBytes = 1 << 20

func transportOr(t http.RoundTripper) http.RoundTripper {
	if t == nil {
		return http.DefaultTransport
	}
	return t
}

// keysTransport is the key set's HTTP transport: every failure to get a key
// set is an error wrapping errKeysUnavailable (go-oidc wraps transport
// errors with %w up to its key set).
type keysTransport struct{ base http.RoundTripper }

func (t keysTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errKeysUnavailable, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	resp.Body.Close()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: status %d", errKeysUnavailable, resp.StatusCode)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", errKeysUnavailable, err)
	case len(body) > maxKeySetBytes:
		return nil, fmt.Errorf("%w: key set larger than %d bytes", errKeysUnavailable, maxKeySetBytes)
	case json.Unmarshal(body, &set) != nil:
		return nil, fmt.Errorf("%w: not a JSON key set", errKeysUnavailable)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// keysFetch receives, for one Verify call, the key set's fetch failure.
type keysFetch struct{ err error }

type keysFetchKey struct{}

// keySet is go-oidc's remote key set, noting a fetch failure (by type) in
// the Verify call's keysFetch before the verifier turns it into text.
type keySet struct{ remote oidc.KeySet }

func (k keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	if err != nil && errors.Is(err, errKeysUnavailable) {
		if f, ok := ctx.Value(keysFetchKey{}).(*keysFetch); ok {
			f.err = errKeysUnavailable
		}
	}
	return payload, err
}
