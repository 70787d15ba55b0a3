#!/usr/bin/env bash
# The body of `make test`: static checks, every Go test against the local
# stack (env from stack.sh), then short fuzz runs. Run it through with-stack.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.stack/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed:"; echo "$unformatted"; exit 1
fi
go vet ./...
# Debian chromium for the operator console's real-browser tests (internal/console).
bash deploy/local/install-browser.sh
# Third-party CloudFormation validators (cfn-guard, the CDK resource spec) for deploy/aws tests.
eval "$(bash deploy/aws/install-validators.sh env)"
go test -count=1 -timeout 20m ${TENANTRY_TEST_FLAGS:-} ./...
# Short fuzzing of every parser of outside input (longer: make fuzz).
FUZZTIME=${FUZZTIME:-8s} bash deploy/local/fuzz.sh
echo "make test: done in $(($(date +%s) - start))s"
