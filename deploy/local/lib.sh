# shellcheck shell=bash
# Shared settings for the local stack scripts. Sourced, never run.
# Everything listens on 127.0.0.1 only; all state lives under $TENANTRY_STACK_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export ROOT
export TENANTRY_STACK_DIR="${TENANTRY_STACK_DIR:-$ROOT/.stack}"
export PG_VERSION=15
export PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"
export PG_PORT="${TENANTRY_PG_PORT:-54329}"
export S3_PORT="${TENANTRY_S3_PORT:-9320}"
export SQS_PORT="${TENANTRY_SQS_PORT:-9324}"
export RELAY_PORT="${TENANTRY_RELAY_PORT:-9325}"
export NODE_TOOLS="$TENANTRY_STACK_DIR/node"
export BIN_DIR="$TENANTRY_STACK_DIR/bin"
export LOG_DIR="$TENANTRY_STACK_DIR/log"
export RUN_DIR="$TENANTRY_STACK_DIR/run"
export S3_ACCESS_KEY="${TENANTRY_S3_ACCESS_KEY:-tenantrylocal}"
export S3_SECRET_KEY="${TENANTRY_S3_SECRET_KEY:-tenantrylocalsecret}"
mkdir -p "$TENANTRY_STACK_DIR" "$BIN_DIR" "$LOG_DIR" "$RUN_DIR"

log() { printf '[stack] %s\n' "$*" >&2; }

# as_root runs a command as root (CI runs as root; developers may use sudo).
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_updated runs apt-get update at most once per hour per stack dir.
apt_updated() {
	local stamp="$TENANTRY_STACK_DIR/.apt-updated"
	if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +60 2>/dev/null)" ]; then
		as_root apt-get update -qq >/dev/null
		touch "$stamp"
	fi
}

# wait_port waits until something accepts TCP connections on 127.0.0.1:$1.
wait_port() {
	local port=$1 name=$2 i
	for i in $(seq 1 300); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	log "$name did not start on 127.0.0.1:$port; see $LOG_DIR"
	return 1
}

# pid_alive tells whether the pid recorded in $RUN_DIR/$1.pid is running.
pid_alive() {
	local f="$RUN_DIR/$1.pid"
	[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}
