#!/usr/bin/env bash
# Installs the pinned third-party validators of deploy/aws/template.yaml from
# the npm registry (package-lock.json beside this script):
#   - AWS CloudFormation Guard 3.1.1 (a static binary shipped in
#     @cdklabs/cdk-validator-cfnguard) with the AWS Control Tower proactive
#     control rules the same package ships;
#   - @aws-cdk/aws-service-spec: the CDK team's database of every
#     CloudFormation resource type, property and attribute.
# Idempotent: skips npm when the lock file has not changed.
#
#   bash deploy/aws/install-validators.sh        # install
#   eval "$(bash deploy/aws/install-validators.sh env)"
#                                                 # install, then export
#                                                 # TENANTRY_AWS_VALIDATORS for go test
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dest="${TENANTRY_STACK_DIR:-$root/.stack}/aws-validators"
log() { printf '[aws-validators] %s\n' "$*" >&2; }

mkdir -p "$dest"
if ! cmp -s "$here/package-lock.json" "$dest/package-lock.json" || [ ! -d "$dest/node_modules/@aws-cdk/aws-service-spec" ]; then
	if ! command -v npm >/dev/null; then
		export DEBIAN_FRONTEND=noninteractive
		if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
		"${sudo[@]}" apt-get update -qq >/dev/null
		"${sudo[@]}" apt-get install -y -qq nodejs npm >/dev/null
	fi
	start=$(date +%s)
	cp "$here/package.json" "$here/package-lock.json" "$here/.npmrc" "$dest/"
	# --ignore-scripts: nothing from the registry runs at install time.
	(cd "$dest" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
	log "installed in $(($(date +%s) - start))s into $dest"
fi
if [ "${1:-}" = env ]; then
	printf 'export TENANTRY_AWS_VALIDATORS=%q\n' "$dest/node_modules"
fi
