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
// (New: DefaultCredit, one; Config.Credit: 0 to 64), a round being Slots
// grants at the tenant's weight, so with one round a small tenant arriving
// next to a backlog gets up to Slots+1 slots before the backlog gets its
// next, then they alternate by weight. The credit only accrues while the
// tenant is not served: an idle tenant's pass is remembered (while above
// that floor, for at most 16,384 tenants), so coming back at once renews
// nothing, and over any span a backlogged tenant gets its weighted share
// of the grants less the credit per other tenant.
//
// A reserve (Config.Reserve) adds places beyond Slots that only tenants
// running fewer than the reserve may take, and only while every slot is
// busy: a tenant arriving next to backlogs that hold every slot starts at
// once instead of waiting for one of their runs to end (runs are not
// pre-empted), while a tenant alone never runs more than Slots. A place
// given back returns to where it came from.
//
// It starts no goroutines. It must never: run more work than it has slots
// and reserve, grant the reserve to a tenant running as many as the
// reserve or while a slot is free, run more of a tenant's work than its cap, lose a slot when a waiting
// caller gives up, or let a tenant be more than its credit (rounds of
// Slots grants at its weight) ahead of the virtual time when it starts
// waiting.
package dispatch
