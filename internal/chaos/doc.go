// Package chaos holds tenantry's end-to-end proofs that nothing is lost and
// nothing is doubled when things break, and that hostile input is refused
// cleanly. It has no code of its own beyond tests (the fault proxy and the
// worker-process harness are its subpackages):
//
//   - TestChaosWorkerKillsAndFaults: documents for several tenants while the
//     real `tenantry worker` process is SIGKILLed at random moments and
//     restarted, its database connections are cut (short run) or PostgreSQL
//     is restarted (long run), and S3 answers 5xx, hangs and resets through
//     a loopback fault proxy;
//   - TestChaosProviderStorm: the same invariants through an in-process
//     worker (service.Run) whose embedding provider answers 429 and 5xx
//     storms;
//   - TestHostileInputs: a corpus of forged envelopes, malformed events and
//     hostile documents sent through the running worker;
//   - TestChaosKillWhileHolding: workers SIGKILLed while they hold (in
//     memory, unverified, kept invisible by batched heartbeats) many
//     messages of a backlogged tenant, the backlog queued before the first
//     worker starts or arriving while it runs.
//
// Every run is short inside `make test`; TENANTRY_CHAOS=long (make chaos)
// runs the long version (1,000 documents, at least 20 kills, a PostgreSQL
// restart — which briefly affects everyone using the shared local stack;
// a 2,000-document backlog killed five times while held);
// TENANTRY_CHAOS=dense runs the kill test with 400 documents, 30% of them
// delivered twice, and no restart. TENANTRY_CHAOS_GROUP_DOCS sets the
// killed worker's --group-docs.
// Tests must never touch the shared database or queues, and must stop every
// process they start.
package chaos
