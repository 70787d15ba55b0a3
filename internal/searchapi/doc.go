// Package searchapi serves the search API: POST /v1/search and GET /healthz.
// A request authenticates with a tenantry search envelope
// (X-Tenantry-Envelope) or an OIDC/Cognito bearer token (Authorization:
// Bearer); internal/binding.Search decides the tenant from exactly one of
// them, and internal/retrieval runs the query in that tenant's scope.
//
// Refused credentials get 401 (or 403 for a valid credential that does not
// grant search) with a stable reason, and a security event. It must never
// take a tenant from the request body, a header other than the credential,
// or echo credentials, query text or document text into logs.
package searchapi
