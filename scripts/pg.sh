#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and trials (Debian's `postgresql` package):
#   scripts/pg.sh start DIR   initdb in DIR/data, listen on 127.0.0.1 on a free port (socket
#                             in DIR), print `export YUQING_TEST_PG_URL=postgres://…` (trust
#                             auth on loopback, user yuqing, database postgres)
#   scripts/pg.sh stop DIR    stop it (DIR can then be deleted)
# initdb refuses to run as root: as root the cluster belongs to the `postgres` user (the
# package creates it) and runs under runuser. tests/postgres.rs starts its own cluster the
# same way unless YUQING_TEST_PG_URL is set.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: $0 start|stop DIR" >&2; exit 64; fi
# YUQING_PG_BINDIR: another installation (or a missing one, to try the skip).
bin=${YUQING_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)}
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 69
fi
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U yuqing -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null
    echo "$port" >"$dir/port"
    echo "export YUQING_TEST_PG_URL=postgres://yuqing@127.0.0.1:$port/postgres"
    ;;
stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
    ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 64 ;;
esac
