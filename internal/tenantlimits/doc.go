// Package tenantlimits owns each tenant's dispatch limits: its weight in the
// worker's weighted round-robin over tenants, its concurrency cap under the
// global one, and its provider budgets (requests and tokens per minute).
// They are stored per tenant (tenant_limits, migration 0006), set by
// operators (`tenantry tenant limits`, audited in the tenant's chain) and
// read by every worker through a cache with a short refresh.
//
// It must never: let a tenant read or set another tenant's limits (rows are
// read under the tenant's verified scope), or block one tenant's work on
// another tenant's limit.
package tenantlimits
