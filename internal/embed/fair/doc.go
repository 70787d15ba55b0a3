// Package fair owns sharing embedding capacity between tenants: a
// Scheduler with a fixed number of slots that, when work is waiting, hands
// the next free slot to the next tenant in round-robin order, so a tenant
// with ten thousand queued chunks cannot starve one with ten. Within a
// tenant, work runs first come, first served.
//
// It starts no goroutines and holds nothing but waiting callers. It must
// never: run more work than it has slots, lose a slot when a waiting caller
// gives up, or order tenants by anything but arrival in the ring (no
// tenant-controlled priority).
package fair
