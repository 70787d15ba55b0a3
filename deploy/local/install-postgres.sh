#!/usr/bin/env bash
# Installs PostgreSQL 15 (Debian bookworm) and builds pgvector from Debian
# trixie's *source* package against postgresql-server-dev-15. No trixie binary is
# ever installed: the trixie deb-src entry lives in a private apt state directory.
# Idempotent: returns at once when vector.so is already installed.
source "$(dirname "$0")/lib.sh"

if [ -x "$PG_BIN/postgres" ] && [ -f "/usr/lib/postgresql/$PG_VERSION/lib/vector.so" ] \
	&& [ -f "/usr/share/postgresql/$PG_VERSION/extension/vector.control" ]; then
	exit 0
fi
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
apt_updated
if [ ! -x "$PG_BIN/postgres" ]; then
	log "installing postgresql-$PG_VERSION"
	as_root apt-get install -y -qq "postgresql-$PG_VERSION" postgresql-contrib >/dev/null
fi
# Pin the dev headers to the installed server version so nothing else upgrades.
server_ver=$(dpkg-query -W -f='${Version}' "postgresql-$PG_VERSION")
log "installing postgresql-server-dev-$PG_VERSION=$server_ver"
as_root apt-get install -y -qq --no-install-recommends "postgresql-server-dev-$PG_VERSION=$server_ver" \
	"libpq-dev=$(dpkg-query -W -f='${Version}' libpq5)" make gcc dpkg-dev >/dev/null

# Private apt state: the machine's own Debian mirror (read from its apt config,
# never hard-coded), suite trixie, deb-src only.
state="$TENANTRY_STACK_DIR/apt-trixie"
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/src"
mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
if [ -z "$mirror" ]; then
	mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mkdir -p "$state/parts"
printf 'deb-src [signed-by=%s] %s trixie main\n' "$keyring" "$mirror" >"$state/sources.list"
aptopts=(-o "Dir::Etc::SourceList=$state/sources.list" -o "Dir::Etc::SourceParts=$state/parts" \
	-o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache")
log "fetching pgvector source from trixie (source only)"
apt-get "${aptopts[@]}" update -qq >/dev/null
(cd "$state/src" && rm -rf pgvector-* && apt-get "${aptopts[@]}" source --download-only -qq pgvector >/dev/null \
	&& dpkg-source -x --no-check ./pgvector_*.dsc >/dev/null)
srcdir=$(find "$state/src" -maxdepth 1 -type d -name 'pgvector-*' | head -1)
log "building pgvector in $srcdir"
make -s -C "$srcdir" PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" >/dev/null
as_root make -s -C "$srcdir" PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
log "postgres + pgvector installed in $(($(date +%s) - start))s"
