package binding_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/devissuer"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
)

func reasonOf(err error) string {
	var be *binding.Error
	if errors.As(err, &be) {
		return be.Code
	}
	return ""
}

// An operator envelope is the console's only way to a tenant scope: it must
// verify, say "operate" and name the whole tenant; and it is good for
// nothing else (no job, object or search accepts it).
func TestOperatorEnvelope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kit, stranger := envelopetest.New(t), envelopetest.New(t, envelopetest.WithSeed("another backend"))
	r := &binding.Resolver{Verifier: kit.Verifier(t)}
	tenant := uuid.New()
	claims := func(mod func(*envelope.Claims)) envelope.Claims {
		c := kit.Claims(tenant, envelope.ActionOperate, binding.OperatorResource)
		c.Subject = "console:olga@example.com"
		if mod != nil {
			mod(&c)
		}
		return c
	}
	v, err := r.Operator(ctx, kit.Sign(t, claims(nil)))
	if err != nil || v.Scope.TenantID() != tenant || v.Scope.Actor() != "console:olga@example.com" {
		t.Fatalf("valid operator envelope: %v %v", v.Scope, err)
	}
	for _, tc := range []struct {
		name, token, reason string
	}{
		{"search envelope", kit.Sign(t, claims(func(c *envelope.Claims) { c.Action = envelope.ActionSearch })), "wrong_action"},
		{"reindex envelope", kit.Sign(t, claims(func(c *envelope.Claims) { c.Action = envelope.ActionReindex })), "wrong_action"},
		{"one document only", kit.Sign(t, claims(func(c *envelope.Claims) { c.Resource = "doc:contract-1" })), "binding_mismatch"},
		{"expired", kit.Sign(t, claims(func(c *envelope.Claims) {
			c.IssuedAt, c.NotBefore, c.Expiry = c.IssuedAt.Add(-2*time.Hour), time.Time{}, c.IssuedAt.Add(-time.Hour)
		})), "expired"},
		{"untrusted key", stranger.Sign(t, claims(nil)), "unknown_key"},
		{"garbage", "a.b.c", "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := r.Operator(ctx, tc.token)
			if got := reasonOf(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
		})
	}
	t.Run("not a job", func(t *testing.T) {
		t.Parallel()
		body := `{"type":"reindex","document_id":"doc-1"}`
		tok := kit.Sign(t, claims(func(c *envelope.Claims) { c.BodyHash = envelope.BodyHash([]byte(body)) }))
		if _, err := r.Resolve(ctx, job(t, tok, body), "m1"); reasonOf(err) != "wrong_action" {
			t.Fatalf("an operator envelope ran a job: %v", err)
		}
		if _, err := r.Search(ctx, tok); reasonOf(err) != "wrong_action" {
			t.Fatalf("an operator envelope searched: %v", err)
		}
	})
}

// Operators' ID tokens from the attacker's side.
func TestOperatorTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var iss *devissuer.Issuer
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	t.Cleanup(hs.Close)
	iss, _ = devissuer.New(hs.URL)
	other, _ := devissuer.New(hs.URL) // same URL, another key: a forger
	ops, err := binding.NewOperatorTokens(ctx, binding.OperatorConfig{Issuer: hs.URL, ClientID: "console"})
	if err != nil {
		t.Fatal(err)
	}
	good := devissuer.Token{Subject: "olga", Audience: "console", TokenUse: "id", Nonce: "n-1", Groups: []string{"ops", "tenantry-operators"}, Email: "olga@example.com"}
	tok, _ := iss.Sign(good)
	op, err := ops.Identify(ctx, tok, "n-1")
	if err != nil || op.Subject != "olga" || op.Email != "olga@example.com" || len(op.Groups) != 2 {
		t.Fatalf("valid token: %+v %v", op, err)
	}
	if a, tk := ops.Endpoints(); a != hs.URL+"/authorize" || tk != hs.URL+"/token" {
		t.Fatalf("endpoints %s %s", a, tk)
	}
	for _, tc := range []struct {
		name   string
		mod    func(*devissuer.Token)
		signer *devissuer.Issuer
		nonce  string
		reason string
	}{
		{"other nonce", nil, iss, "n-2", "nonce_mismatch"},
		{"no nonce expected", nil, iss, "", "nonce_mismatch"},
		{"expired", func(t *devissuer.Token) { t.ExpiresIn = -time.Minute }, iss, "n-1", "expired"},
		{"foreign issuer", func(t *devissuer.Token) { t.Issuer = "https://evil.example.com" }, iss, "n-1", "foreign_issuer"},
		{"other client", func(t *devissuer.Token) { t.Audience = "search-api" }, iss, "n-1", "wrong_audience"},
		{"forged key", nil, other, "n-1", "bad_signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tk := good
			if tc.mod != nil {
				tc.mod(&tk)
			}
			raw, err := tc.signer.Sign(tk)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ops.Identify(ctx, raw, tc.nonce); reasonOf(err) != tc.reason {
				t.Fatalf("reason %q (%v), want %q", reasonOf(err), err, tc.reason)
			}
		})
	}
	for _, raw := range []string{"", "not-a-jwt", "a.b"} {
		if _, err := ops.Identify(ctx, raw, "n-1"); reasonOf(err) == "" {
			t.Errorf("%q accepted or unclassified: %v", raw, err)
		}
	}
}
