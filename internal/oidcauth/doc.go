// Package oidcauth verifies OIDC / Amazon Cognito bearer tokens (ID or
// access tokens) for the search API and mints the tenant Scope their tenant
// claim names: the second, and only other, place besides internal/envelope
// that may call tenantdb.MintVerified (TestOnlyVerifiersMintScopes).
//
// A token counts only if its signature verifies against the configured
// issuer's JWKS (found through OIDC discovery), its issuer is exactly the
// configured one, it has not expired, it is meant for the configured
// audience (aud, or Cognito's client_id on access tokens), its token_use
// matches when one is required, and its tenant claim is a UUID.
//
// It must never take the tenant from anything but a verified token, accept
// an unsigned or symmetric-key token, or put tokens or claims in errors or logs.
package oidcauth
