#!/usr/bin/env bash
# Runs every Fuzz target in the module for $FUZZTIME each (default 8s).
# A finding (a failing input written to testdata/fuzz) fails the run. Go
# 1.26's fuzzing engine can also stop with a bare "context deadline exceeded"
# and no input (golang/go#75804): that is retried once, then reported as an
# engine error without failing the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZTIME=${FUZZTIME:-8s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //' | sort -u); do
		for attempt in 1 2; do
			echo "fuzz $pkg $target ($FUZZTIME)"
			if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >"$log" 2>&1; then
				break
			fi
			if grep -q "Failing input written to" "$log"; then
				cat "$log"
				exit 1
			fi
			echo "fuzz engine error (no failing input) in $target, attempt $attempt:"
			tail -5 "$log"
		done
	done
done
