#!/usr/bin/env bash
# The body of `make demo` (run through with-stack.sh, which exports the stack's
# environment): build, migrate, then `tenantry demo` runs the whole flow.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p bin
echo "==> building bin/tenantry"
CGO_ENABLED=0 go build -trimpath -o bin/tenantry ./cmd/tenantry
echo "==> migrating the schema (owner role; worker role gets only its grants)"
./bin/tenantry migrate --log-level=warn
./bin/tenantry demo --log-level=warn "$@"
echo
echo "==> operator console: run \`make console\` and open http://127.0.0.1:8090"
echo "    dev login: pick \"operator\" (may act) or \"viewer\" (read only) on the dev issuer's page (loopback only, no password)"
