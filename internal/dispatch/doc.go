// Package dispatch owns fair dispatch across the whole worker: a Scheduler
// with a fixed number of work slots (the global concurrency) that hands the
// next free slot to the waiting tenant with the least weighted service so
// far (stride scheduling: weighted round-robin without bursts), never to a
// tenant at its own concurrency cap. Weights and caps come from each
// tenant's stored limits (internal/tenantlimits) and may change at runtime.
//
// The worker runs it after the gate verified a message's tenant (the tenant
// is never taken from an unverified field, so no one can spend another
// tenant's share), and receives more messages than it has work slots, so a
// tenant with a backlog waits in its own queue while others' messages are
// received and run.
//
// It starts no goroutines. It must never: run more work than it has slots,
// run more of a tenant's work than its cap, lose a slot when a waiting
// caller gives up, or let a tenant bank credit while idle.
package dispatch
