// Package harness runs the real `tenantry worker` binary against the local
// stack for chaos, hostile-input and benchmark tests: it builds the binary
// once per test process, gives each test its own database (tenantdbtest),
// bucket, queue + DLQ and envelope keys (a JWKS file the worker trusts),
// starts, SIGKILLs and restarts worker processes, reads their ops endpoints
// and peak RSS, uploads documents with signed envelopes, sends S3
// notifications, and checks the exactly-once invariants afterwards (every
// document ready, no chunk missing or doubled, one ingest audit row per
// document version, every audit chain verifying).
//
// It is a test helper: only _test.go files may import it. It never touches
// the shared tenantry database or queues, never binds anything but
// 127.0.0.1, and stops every process it started (Process.Kill/Stop, and the
// test's Cleanup). It does not import pgx (only internal/tenantdb may):
// SQL checks take a Querier, which *pgx.Conn satisfies.
package harness
