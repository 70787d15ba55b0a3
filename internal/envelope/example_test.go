package envelope_test

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
)

// A backend signs an upload envelope; tenantry verifies it against the
// object it arrived on and gets the tenant scope.
func Example() {
	ctx := context.Background()
	signer, _ := envelope.GenerateKey(envelope.AlgES256, "backend-2026-03")
	issuer, _ := envelope.NewIssuer(signer, envelope.IssuerConfig{Issuer: "https://api.example.com", Audience: "tenantry"})

	tenant := uuid.MustParse("6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11")
	key := tenant.String() + "/doc-1/report.pdf"
	token, _, _ := issuer.Object(ctx, tenant, "user:42", "uploads", key)

	ring, _ := envelope.NewKeyRing(signer.PublicKey())
	verifier, _ := envelope.NewVerifier(envelope.Config{
		Audience: "tenantry", Issuers: []string{"https://api.example.com"}, Keys: ring,
	}, nil)

	got, err := verifier.VerifyObject(ctx, token, "uploads", key)
	fmt.Println(got.Scope, got.Claims.Action, err)

	// The same envelope on another tenant's object is refused.
	_, err = verifier.VerifyObject(ctx, token, "uploads", uuid.NewString()+"/doc-1/report.pdf")
	fmt.Println(envelope.ReasonOf(err))
	// Output:
	// tenant:6f1c2a4e-8b1d-4c55-9a3e-2f0d7c9b1a11 ingest <nil>
	// binding_mismatch
}

// Jobs bind their body: any change to the bytes is refused.
func ExampleVerifier_VerifyJob() {
	ctx := context.Background()
	signer, _ := envelope.GenerateKey(envelope.AlgEdDSA, "")
	issuer, _ := envelope.NewIssuer(signer, envelope.IssuerConfig{Issuer: "https://api.example.com", Audience: "tenantry"})
	ring, _ := envelope.NewKeyRing(signer.PublicKey())
	verifier, _ := envelope.NewVerifier(envelope.Config{Audience: "tenantry", Issuers: []string{"https://api.example.com"}, Keys: ring}, nil)

	body := []byte(`{"type":"reindex","document_id":"doc-1"}`)
	token, _, _ := issuer.Job(ctx, uuid.New(), "svc:scheduler", envelope.ActionReindex, envelope.DocumentResource("doc-1"), body)

	got, err := verifier.VerifyJob(ctx, token, body)
	fmt.Println(got.Claims.Action, err, got.RequireAction(envelope.ActionReindex))
	_, err = verifier.VerifyJob(ctx, token, []byte(`{"type":"purge","document_id":"doc-1"}`))
	fmt.Println(envelope.ReasonOf(err))
	// Output:
	// reindex <nil> <nil>
	// body_hash_mismatch
}

// ReasonOf gives the stable code to record; "" means "not a rejection"
// (e.g. keys unavailable: retry later).
func ExampleReasonOf() {
	err := fmt.Errorf("ingest: %w", &envelope.Error{Code: envelope.ReasonExpired, Detail: "envelope expired"})
	fmt.Println(envelope.ReasonOf(err))
	fmt.Println(envelope.ReasonOf(envelope.ErrKeysUnavailable) == "")
	// Output:
	// expired
	// true
}

func ExampleBodyHash() {
	fmt.Println(envelope.BodyHash([]byte(`{"type":"purge"}`)))
	// Output: Ms-T1FHe5-aPvbFZPmcixilGNnzJHNHxHgLGEiTDo4s
}

// Several sources at once: a JWKS published by the backend and a KMS key.
func ExampleCombine() {
	jwks, _ := envelope.NewJWKSSource(envelope.JWKSConfig{URL: "https://api.example.com/.well-known/tenantry-jwks.json"}, nil)
	keys := envelope.Combine(jwks /*, kmsKeySource */)
	_, err := envelope.NewVerifier(envelope.Config{Audience: "tenantry", Issuers: []string{"https://api.example.com"}, Keys: keys}, nil)
	fmt.Println(err)
	// Output: <nil>
}
