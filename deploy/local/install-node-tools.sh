#!/usr/bin/env bash
# Installs the pinned npm tools (fauxqs SQS server, jose, asl-validator,
# aws-local-stepfunctions, a Node 22 binary) from package-lock.json.
# Idempotent: skips npm when the lock file has not changed.
source "$(dirname "$0")/lib.sh"
mkdir -p "$NODE_TOOLS"
here="$ROOT/deploy/local"
if cmp -s "$here/package-lock.json" "$NODE_TOOLS/package-lock.json" && [ -d "$NODE_TOOLS/node_modules/fauxqs" ]; then
	cp "$here"/*.mjs "$NODE_TOOLS/"
	exit 0
fi
if ! command -v npm >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt_updated
	as_root apt-get install -y -qq nodejs npm >/dev/null
fi
start=$(date +%s)
cp "$here/package.json" "$here/package-lock.json" "$NODE_TOOLS/"
(cd "$NODE_TOOLS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
cp "$here"/*.mjs "$NODE_TOOLS/"
log "npm tools installed in $(($(date +%s) - start))s"
