// Package console is the operator console (`tenantry console`): a
// server-rendered web view of every tenant's pipeline — documents by status,
// chunks, failures by reason, dead letters, breaker state, provider usage
// (internal/usage), the audit chain and its last verification (the newest
// console.verify_chain event of the chain itself), support access —
// and the operator actions on it (pause/resume a tenant, dry-run and replay
// dead letters, reindex, verify a chain now), each with a written reason and
// recorded in the affected tenant's audit chain under the operator's
// identity.
//
// It owns sign-in (OIDC authorization code flow with PKCE against any
// issuer; a groups claim maps to the roles viewer and operator), sessions
// (HttpOnly, SameSite=Strict, Secure cookies), CSRF tokens on every action,
// and the pages. It reads tenant data only through Reader (the owner role's
// read-only view, tenantdb.ConsoleReader) and acts only through its
// narrow dependencies: TenantControl (the breaker), Recorder (an audit event
// through the gate and WithTenant), DeadLetters (internal/dlq, the code of
// `tenantry dlq`), Reindexer (signed reindex jobs on the job queue).
//
// It must never show or log document text (it reads no chunk), never open a
// database role that bypasses row level security for writes, never mint a
// tenant scope itself, and never act without a signed-in operator, a reason
// and a valid CSRF token.
package console
