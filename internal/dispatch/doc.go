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
// A tenant that starts waiting (newly active, back from idle, or with work
// running and none waiting until now) gets a bounded wake-up credit, as a
// sleeper does in Linux's CFS: its pass may be up to its credit behind the
// virtual time (the largest pass served). The credit is a number of rounds
// (New: DefaultCredit, one; NewWithCredit: 0 to 64), a round being Slots
// grants at the tenant's weight, so with one round a small tenant arriving
// next to a backlog gets up to Slots+1 slots before the backlog gets its
// next, then they alternate by weight. The credit only accrues while the
// tenant is not served: an idle tenant's pass is remembered (while above
// that floor, for at most 16,384 tenants), so coming back at once renews
// nothing, and over any span a backlogged tenant gets its weighted share
// of the grants less the credit per other tenant.
//
// It starts no goroutines. It must never: run more work than it has slots,
// run more of a tenant's work than its cap, lose a slot when a waiting
// caller gives up, or let a tenant be more than its credit (rounds of
// Slots grants at its weight) ahead of the virtual time when it starts
// waiting.
package dispatch
