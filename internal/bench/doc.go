// Package bench measures tenantry on the local stack and writes
// docs/benchmarks.md (make bench, deploy/local/bench.sh). Numbers are only
// ever stated as ratios against a baseline measured in the same run on the
// same machine, or as distributions with the machine described: these
// machines are shared and noisy.
//
// The measurements live in its tests (TestBenchmarks: ingest against raw
// binary COPY, upload-to-searchable latency, worker peak RSS by document
// size), which run the real `tenantry worker` binary through
// internal/chaos/harness; a tiny smoke version runs in make test. This
// package holds the result types and the Markdown report (Render), and
// parses `go test -bench` output (ParseGoBench) for the micro-benchmarks.
//
// It must never assert speed (numbers are reported, not tested), never touch
// the shared database or queues, and never leave a process running.
package bench
