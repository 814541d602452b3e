#!/usr/bin/env bash
# Several yuqing daemons on one PostgreSQL database (issue 19): N feeds x M items on the
# Rust feed server (examples/feed_server.rs), mail to the Rust SMTP sink
# (examples/smtp_sink.rs), a throwaway PostgreSQL from scripts/pg.sh, and K instances of
# `yuqing run` (each source due every minute) for each K asked. Per K, from an empty
# database:
#
#   cold  from the start until every item is stored and nothing is pending in the outbox
#   warm  the first whole minute slot after that: every source polled again (304s), from
#         the slot's start until every source's lease is released for that slot and its
#         304 recorded in source_state
#   idle  the rest of that minute: nothing due
#
# For each phase: wall time, the instances' CPU (user+sys, summed) and the PostgreSQL
# server's CPU (its backends, summed), from /proc.
#
# usage: bench/instances.sh [N] [M] [K ...]      (defaults: 10000 20 1 2 3)
# Needs: cargo, python3, Debian's postgresql. NO_BUILD=1 uses the binaries as built.
set -euo pipefail

N=${1:-10000}
M=${2:-20}
shift $(( $# > 2 ? 2 : $# )) || true
KS=("$@")
[[ ${#KS[@]} -gt 0 ]] || KS=(1 2 3)

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${YUQING_BIN:-$TARGET/release/yuqing}
die() { echo "instances: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/yuqing-instances.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -n ${PGDIR:-} ]] && { "$ROOT/scripts/pg.sh" stop "$PGDIR" >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
    [[ ${KEEP:-0} == 1 ]] && echo "instances: kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

if [[ ${NO_BUILD:-0} != 1 ]]; then
    echo "instances: building release binaries ..." >&2
    cargo build --release --quiet --bin yuqing --example smtp_sink --example feed_server
fi
[[ -x $BIN ]] || die "$BIN not built"

# --- corpus and peers --------------------------------------------------------------
FEED_PORT=$(free_port)
SINK_PORT=$(free_port)
python3 "$ROOT/bench/gen_feeds.py" --out "$WORK/corpus" --feeds "$N" --items "$M" \
    --http-port "$FEED_PORT" --smtp-port "$SINK_PORT" >&2
"$TARGET/release/examples/feed_server" "127.0.0.1:$FEED_PORT" "$WORK/corpus/feeds" &
PIDS+=($!)
"$TARGET/release/examples/smtp_sink" "127.0.0.1:$SINK_PORT" "$WORK/sink.count" &
PIDS+=($!)
# Its own directory: scripts/pg.sh runs the server as the postgres user when root, and
# that user cannot enter $WORK (mode 700).
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/yuqing-instances-pg.XXXXXX")
eval "$("$ROOT/scripts/pg.sh" start "$PGDIR")"
BASE=$YUQING_TEST_PG_URL
PREFIX=${BASE%/*}
POSTMASTER=$(head -1 "$PGDIR/data/postmaster.pid")
ITEMS=$((N * M))

psql_one() { psql -X -A -t -q "$1" -c "$2"; }
ticks() { getconf CLK_TCK; }
TCK=$(ticks)
# CPU seconds (user+sys) of the given pids.
cpu_of() {
    local total=0 pid f
    for pid in "$@"; do
        [[ -r /proc/$pid/stat ]] || continue
        f=$(sed 's/^.*) //' "/proc/$pid/stat")
        set -- $f
        total=$((total + ${12} + ${13}))
    done
    python3 -c "print(f'{$total / $TCK:.2f}')"
}
pg_backends() { pgrep -P "$POSTMASTER" | tr '\n' ' '; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

echo "| instances | cold wall s | cold CPU s (yuqing + PG) | warm wall s | warm CPU s (yuqing + PG) | idle CPU s/min (yuqing + PG) |"
echo "|---|---|---|---|---|---|"
for K in "${KS[@]}"; do
    DB=b$K
    psql_one "$BASE" "CREATE DATABASE $DB" >/dev/null
    URL="$PREFIX/$DB"
    DAEMONS=()
    # Start just after a minute begins, so the first slot is the current minute's.
    sleep $(( (61 - $(date +%S | sed 's/^0//')) % 60 ))
    for i in $(seq 1 "$K"); do
        CFG=$WORK/config-$K-$i
        cp -r "$WORK/corpus" "$CFG"
        python3 - "$CFG/yuqing.toml" "$URL" <<'EOF'
import re, sys
path, url = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r'(?m)^path = .*$', f'url = "{url}"', text, count=1)
# Every source due every minute (the corpus's sources take the default schedule).
text = text.replace("[daemon]\n", '[daemon]\ndefault_schedule = "* * * * *"\n', 1)
open(path, "w").write(text)
EOF
        grep -q "^url = " "$CFG/yuqing.toml" || die "could not set [storage] url"
        grep -q '^default_schedule = "\* \* \* \* \*"' "$CFG/yuqing.toml" || die "could not set the schedule"
        YUQING_LOG=warn "$BIN" --config "$CFG" run >"$WORK/daemon-$K-$i.log" 2>&1 &
        DAEMONS+=($!)
        PIDS+=($!)
    done
    T0=$(now)
    until [[ $(psql_one "$URL" "SELECT count(*) FROM documents" 2>/dev/null || echo 0) -ge $ITEMS \
        && $(psql_one "$URL" "SELECT count(*) FROM alerts WHERE status = 'pending'" 2>/dev/null || echo 1) -eq 0 ]]; do
        sleep 0.5
        for pid in "${DAEMONS[@]}"; do kill -0 "$pid" 2>/dev/null || die "an instance exited: $(tail -5 "$WORK"/daemon-$K-*.log)"; done
    done
    T1=$(now)
    COLD_Y=$(cpu_of "${DAEMONS[@]}")
    COLD_P=$(cpu_of $(pg_backends))
    # The next whole minute: every source again (304s).
    sleep $(( (61 - $(date +%S | sed 's/^0//')) % 60 ))
    SLOT=$(( $(date +%s) / 60 * 60 ))
    W0=$(now)
    Y0=$(cpu_of "${DAEMONS[@]}"); P0=$(cpu_of $(pg_backends))
    until [[ $(psql_one "$URL" "SELECT count(*) FROM source_leases WHERE done_slot >= $SLOT") -ge $N ]]; do sleep 0.2; done
    # ... and its 304 is recorded (the state writes of 304s are flushed after the runs).
    until [[ $(psql_one "$URL" "SELECT count(*) FROM source_state WHERE last_attempt_at >= $SLOT") -ge $N ]]; do sleep 0.2; done
    W1=$(now)
    Y1=$(cpu_of "${DAEMONS[@]}"); P1=$(cpu_of $(pg_backends))
    # Idle: to the end of the minute.
    REST=$(( SLOT + 59 - $(date +%s) ))
    [[ $REST -gt 5 ]] || REST=5
    sleep "$REST"
    Y2=$(cpu_of "${DAEMONS[@]}"); P2=$(cpu_of $(pg_backends))
    IDLE_Y=$(python3 -c "print(f'{($Y2 - $Y1) * 60 / $REST:.2f}')")
    IDLE_P=$(python3 -c "print(f'{($P2 - $P1) * 60 / $REST:.2f}')")
    echo "| $K | $(secs "$T0" "$T1") | $COLD_Y + $COLD_P | $(secs "$W0" "$W1") | $(python3 -c "print(f'{$Y1 - $Y0:.2f}')") + $(python3 -c "print(f'{$P1 - $P0:.2f}')") | $IDLE_Y + $IDLE_P |"
    for pid in "${DAEMONS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
done
echo "instances: $N feeds x $M items, $(nproc) cores; sink received $(cat "$WORK/sink.count" 2>/dev/null || echo 0) messages in all" >&2
