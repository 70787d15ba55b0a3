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
