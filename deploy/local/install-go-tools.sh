#!/usr/bin/env bash
# Builds the Go programs the stack and the checks use from pinned tools
# modules (tools/*/go.mod records versions and checksums): versitygw (the S3
# server) and golangci-lint. Idempotent: rebuilds only when a go.mod changed.
source "$(dirname "$0")/lib.sh"
build() { # build <tools dir> <package> <binary>
	local dir="$ROOT/tools/$1" pkg=$2 bin="$BIN_DIR/$3" stamp="$BIN_DIR/.$3.stamp"
	local want
	want=$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-16)
	if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
	local start
	start=$(date +%s)
	(cd "$dir" && GOFLAGS=-mod=mod go build -trimpath -o "$bin" "$pkg")
	echo "$want" >"$stamp"
	log "built $3 in $(($(date +%s) - start))s"
}
case "${1:-all}" in
s3 | all) build s3server github.com/versity/versitygw/cmd/versitygw versitygw ;;&
lint | all) build lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint golangci-lint ;;
esac
