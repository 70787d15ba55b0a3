#!/usr/bin/env bash
# The body of `make bench` (run through with-stack.sh, which exports the local
# stack's environment): builds bin/tenantry, runs the Go micro-benchmarks,
# then the end-to-end measurements on the local stack (internal/bench,
# TENANTRY_BENCH=full), and writes docs/benchmarks.md. A failed run leaves
# the previous docs/benchmarks.md in place.
#
# Knobs: BENCH_COUNT (repetitions of each micro-benchmark, default 5),
# BENCH_TIME (-benchtime, default 1s), TENANTRY_BENCH_ONLY (e.g. "latency,memory"),
# BENCH_SKIP (any of "search,fidelity,fairness": leave that report as it is).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${TENANTRY_ADMIN_DATABASE_URL:?run through make bench (deploy/local/with-stack.sh exports the stack environment)}"

count=${BENCH_COUNT:-5}
benchtime=${BENCH_TIME:-1s}
out=$(mktemp -d "${TMPDIR:-/tmp}/tenantry-bench.XXXXXX")
trap 'rm -rf "$out"' EXIT
start=$(date +%s)

echo "==> building bin/tenantry"
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/tenantry ./cmd/tenantry

micro_cmd="go test -run '^\$' -bench . -benchmem -count $count -benchtime $benchtime ./internal/tenantdb ./internal/envelope ./internal/chunk ./internal/dispatch ./internal/breaker"
echo "==> micro-benchmarks: $micro_cmd"
eval "$micro_cmd" | tee "$out/micro.txt"

# The embedding client's measurements (provider limit, per-tenant fairness)
# belong to internal/embed; include them when they exist: its benchmarks, and
# the long TestProviderLimit (attained/Q and throttle rate for several Q, L).
embed_pkgs=$(grep -rl --include='*_test.go' -E '^func Benchmark' internal/embed 2>/dev/null |
	grep -v '^internal/embed/offline/' | xargs -r -n1 dirname | sort -u | sed 's|^|./|' | tr '\n' ' ' || true)
limit_pkgs=$(grep -rl --include='*_test.go' -E '^func TestProviderLimit\(' internal/embed 2>/dev/null |
	xargs -r -n1 dirname | sort -u | sed 's|^|./|' | tr '\n' ' ' || true)
embed_cmds=""
if [ -n "$embed_pkgs" ]; then
	embed_cmds="go test -run '^\$' -bench . -count 1 $embed_pkgs"
fi
if [ -n "$limit_pkgs" ]; then
	embed_cmds="${embed_cmds:+$embed_cmds
}TENANTRY_LONG=1 go test -count=1 -run '^TestProviderLimit\$' -v $limit_pkgs"
fi
: >"$out/embed.txt"
if [ -n "$embed_cmds" ]; then
	while IFS= read -r cmd; do
		echo "==> embedding client: $cmd"
		{ echo "\$ $cmd"; eval "$cmd" 2>&1 | grep -v -E '^(goos|goarch|cpu|PASS|ok|=== (RUN|PAUSE|CONT))' ; } | tee -a "$out/embed.txt" || true
	done <<<"$embed_cmds"
else
	echo "==> no embedding-client benchmark in internal/embed yet: docs/benchmarks.md keeps a placeholder"
fi
embed_cmd=${embed_cmds:-"go test -run '^\$' -bench . ./internal/embed/..."}

e2e_cmd="TENANTRY_BENCH=full TENANTRY_WORKER_BIN=bin/tenantry go test -count=1 -timeout 90m -run '^TestBenchmarks\$' -v ./internal/bench"
commands="CGO_ENABLED=0 go build -trimpath -o bin/tenantry ./cmd/tenantry
$micro_cmd"
if [ -n "$embed_cmds" ]; then commands="$commands
$embed_cmds"; fi
commands="$commands
$e2e_cmd"

echo "==> end-to-end measurements: $e2e_cmd"
TENANTRY_BENCH=full TENANTRY_WORKER_BIN="$PWD/bin/tenantry" \
	TENANTRY_BENCH_MICRO="$out/micro.txt" \
	TENANTRY_BENCH_EMBED="$([ -s "$out/embed.txt" ] && echo "$out/embed.txt" || true)" \
	TENANTRY_BENCH_EMBED_CMD="$embed_cmd" \
	TENANTRY_BENCH_COMMANDS="$commands" \
	TENANTRY_BENCH_DOC="$out/benchmarks.md" TENANTRY_BENCH_JSON="$out/results.json" \
	go test -count=1 -timeout 90m -run '^TestBenchmarks$' -v ./internal/bench

# Tenant-correct retrieval: recall@10 per tenant on skewed tenants (100,000
# chunks, clustered and offline-embedded text vectors, with and without a 1%
# filter), latency against an unfiltered HNSW query in the same run.
skip=",${BENCH_SKIP:-},"
search_cmd="TENANTRY_BENCH=full go test -count=1 -timeout 90m -run '^TestSearchRecall\$' -v ./internal/bench"
if [[ $skip != *,search,* ]]; then
	echo "==> search recall and latency: $search_cmd"
	TENANTRY_BENCH=full TENANTRY_SEARCH_BENCH_DOC="$out/search-benchmarks.md" \
		go test -count=1 -timeout 90m -run '^TestSearchRecall$' -v ./internal/bench
	{
		cat "$out/search-benchmarks.md"
		printf '\nCommand: `%s` (part of `make bench`). Host: %s, %s CPUs, load average at the end: %s.\n' \
			"$search_cmd" "$(uname -sr)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$out/search-benchmarks.full.md"
fi

# Extraction fidelity: share of extracted characters that are boilerplate on
# real documents, before (the extractor's reference mode) and after, in one run.
fidelity_cmd="go test -count=1 -run '^TestFidelityReport\$' -v ./internal/extract"
if [[ $skip != *,fidelity,* ]]; then
	echo "==> extraction fidelity: $fidelity_cmd"
	TENANTRY_FIDELITY_DOC="$out/extraction-fidelity.md" go test -count=1 -run '^TestFidelityReport$' -v ./internal/extract
fi

# Fair dispatch: the starvation scenario through the real worker (short form;
# TENANTRY_FAIRNESS_MODE=full adds a backlog of 10,000 of tenant A's documents to 300 and 2,000).
fair_cmd="TENANTRY_BENCH=${TENANTRY_FAIRNESS_MODE:-short} go test -count=1 -timeout 60m -run '^TestFairDispatch\$' -v ./internal/bench"
if [[ $skip != *,fairness,* ]]; then
	echo "==> fair dispatch: $fair_cmd"
	TENANTRY_BENCH=${TENANTRY_FAIRNESS_MODE:-short} TENANTRY_FAIRNESS_BENCH_DOC="$out/fairness-benchmarks.md" \
		go test -count=1 -timeout 60m -run '^TestFairDispatch$' -v ./internal/bench
fi

mkdir -p docs .stack
for f in extraction-fidelity fairness-benchmarks; do
	if [ -f "$out/$f.md" ]; then cp "$out/$f.md" "docs/$f.md"; fi
done
if [ -f "$out/search-benchmarks.full.md" ]; then cp "$out/search-benchmarks.full.md" docs/search-benchmarks.md; fi
cp "$out/benchmarks.md" docs/benchmarks.md
# The raw results, to re-render the report without measuring again:
#   TENANTRY_BENCH_RENDER=$PWD/.stack/bench-results.json TENANTRY_BENCH_DOC=$PWD/docs/benchmarks.md \
#     go test -count=1 -run '^TestBenchmarks$' ./internal/bench
cp "$out/results.json" .stack/bench-results.json
echo "make bench: wrote docs/benchmarks.md in $(($(date +%s) - start))s"
