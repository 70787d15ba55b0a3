// Package tenantdb is the only owner of tenantry's PostgreSQL connection pool.
//
// Job code never sees a pool or a connection: the one way to run SQL against
// tenant tables is WithTenant, which takes a verified Scope, begins a
// transaction, sets tenantry.tenant_id / tenantry.actor / tenantry.job_id with
// set_config(..., true) (the parameterised SET LOCAL) in one round trip, runs
// the callback with a Tx, and commits or rolls back. Row-level security in the
// database (see migrations) refuses every row of another tenant.
//
// Open refuses to return a DB whose role could bypass RLS (Preflight).
//
// This package must never: mint a Scope from unverified input, expose the pool,
// keep a tenant setting on a pooled connection after a transaction, or log SQL
// arguments (they carry tenant data).
package tenantdb
