package envelope_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
)

func TestClaimsWireForm(t *testing.T) {
	t.Parallel()
	tenant := uuid.MustParse("6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11")
	c := envelope.Claims{
		Issuer: "https://api.example.com", Audience: "tenantry", Subject: "user:42", TenantID: tenant,
		Action: envelope.ActionIngest, Resource: envelope.ObjectResource("uploads", tenant.String()+"/d/a.pdf"),
		IssuedAt: epoch, NotBefore: epoch, Expiry: epoch.Add(time.Hour), ID: "abc",
	}
	got, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"iss":"https://api.example.com","aud":"tenantry","sub":"user:42","tid":"6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11",` +
		`"act":"ingest","res":"s3://uploads/6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11/d/a.pdf","iat":1772366400,"nbf":1772366400,"exp":1772370000,"jti":"abc"}`
	if string(got) != want {
		t.Fatalf("wire form\n got %s\nwant %s", got, want)
	}
	// HTML-sensitive characters are not escaped (shorter, and what other JWT libraries write).
	c.Subject = "a<b>&c"
	got, _ = c.MarshalJSON()
	if !strings.Contains(string(got), `"sub":"a<b>&c"`) {
		t.Fatalf("escaped: %s", got)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
}

func TestClaimsValidate(t *testing.T) {
	t.Parallel()
	tenant := uuid.New()
	base := envelope.Claims{
		Issuer: "i", Audience: "a", Subject: "s", TenantID: tenant, Action: envelope.ActionReindex,
		Resource: "doc:1", IssuedAt: epoch, Expiry: epoch.Add(time.Minute), ID: "j",
		BodyHash: envelope.BodyHash([]byte("x")),
	}
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mut  func(*envelope.Claims)
	}{
		{"no issuer", func(c *envelope.Claims) { c.Issuer = "" }},
		{"no audience", func(c *envelope.Claims) { c.Audience = "" }},
		{"no subject", func(c *envelope.Claims) { c.Subject = "" }},
		{"subject too long", func(c *envelope.Claims) { c.Subject = strings.Repeat("s", 257) }},
		{"subject not UTF-8", func(c *envelope.Claims) { c.Subject = "\xff" }},
		{"no jti", func(c *envelope.Claims) { c.ID = "" }},
		{"nil tenant", func(c *envelope.Claims) { c.TenantID = uuid.Nil }},
		{"bad action", func(c *envelope.Claims) { c.Action = "admin" }},
		{"no resource", func(c *envelope.Claims) { c.Resource = "" }},
		{"empty doc id", func(c *envelope.Claims) { c.Resource = "doc:" }},
		{"s3 without key", func(c *envelope.Claims) { c.Resource = "s3://bucket" }},
		{"s3 empty key", func(c *envelope.Claims) { c.Resource = "s3://bucket/" }},
		{"s3 empty bucket", func(c *envelope.Claims) { c.Resource = "s3:///key" }},
		{"control character", func(c *envelope.Claims) { c.Resource = "doc:a\nb" }},
		{"resource too long", func(c *envelope.Claims) { c.Resource = "doc:" + strings.Repeat("x", 1200) }},
		{"bad body hash", func(c *envelope.Claims) { c.BodyHash = "abc" }},
		{"padded body hash", func(c *envelope.Claims) { c.BodyHash += "=" }},
		{"no iat", func(c *envelope.Claims) { c.IssuedAt = time.Time{} }},
		{"no exp", func(c *envelope.Claims) { c.Expiry = time.Time{} }},
		{"exp == iat", func(c *envelope.Claims) { c.Expiry = c.IssuedAt }},
		{"nbf after exp", func(c *envelope.Claims) { c.NotBefore = c.Expiry.Add(time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := base
			tt.mut(&c)
			if err := c.Validate(); err == nil {
				t.Fatal("valid")
			}
		})
	}
}

func TestBodyHash(t *testing.T) {
	t.Parallel()
	// SHA-256("") in base64url without padding.
	if got := envelope.BodyHash(nil); got != "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU" {
		t.Fatalf("BodyHash(nil) = %s", got)
	}
	if envelope.BodyHash([]byte("a")) == envelope.BodyHash([]byte("a ")) {
		t.Fatal("hash ignores bytes")
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	for _, a := range []envelope.Action{envelope.ActionIngest, envelope.ActionReindex, envelope.ActionDelete, envelope.ActionPurge} {
		if !a.Valid() {
			t.Errorf("%s invalid", a)
		}
	}
	for _, a := range []envelope.Action{"", "Ingest", "admin"} {
		if a.Valid() {
			t.Errorf("%q valid", a)
		}
	}
}

func TestReasons(t *testing.T) {
	t.Parallel()
	seen := map[envelope.Reason]bool{}
	for _, r := range envelope.Reasons() {
		if seen[r] || r == "" || strings.ToLower(string(r)) != string(r) {
			t.Fatalf("bad or duplicate reason %q", r)
		}
		seen[r] = true
	}
	if envelope.ReasonOf(nil) != "" {
		t.Fatal("ReasonOf(nil)")
	}
	wrapped := &envelope.Error{Code: envelope.ReasonExpired}
	if got := envelope.ReasonOf(wrapErr{wrapped}); got != "expired" {
		t.Fatalf("ReasonOf(wrapped) = %q", got)
	}
	if diff := cmp.Diff("envelope: rejected (expired)", wrapped.Error()); diff != "" {
		t.Fatal(diff)
	}
}

type wrapErr struct{ err error }

func (w wrapErr) Error() string { return "job: " + w.err.Error() }
func (w wrapErr) Unwrap() error { return w.err }
