#!/usr/bin/env bash
# End-to-end benchmark for yuqing: N feeds x M items over loopback HTTP, one
# SQLite database, a local SMTP sink; `run --once` cycles, cold then warm, twice:
# first against Python peers (http.server + aiosmtpd), then, from an empty
# database, against minimal Rust peers (examples/feed_server.rs, smtp_sink.rs)
# so that yuqing's own cost is visible apart from the peers'. Between the two, the same
# cold and warm cycles by a tuned Python monitor that ships here (bench/peer_monitor.py:
# threads, conditional GET, feedparser-like parsing, SQLite, smtplib over 4 connections)
# against the same Python peers; a side-by-side table ends the report.
#
# usage: bench/e2e.sh [N] [M]            (defaults: 1000 feeds x 20 items)
#
#   cold  empty database: every item is new, 5 % of them match a keyword
#   warm  the same sources again: the server answers 304 Not Modified, so this
#         measures an idle re-poll (no new documents, no new mail expected)
#
# Needs: cargo, python3, /usr/bin/time (GNU time), and the Debian package
# python3-aiosmtpd for the SMTP sink. The sink must run under /usr/bin/python3:
# a pyenv/venv python3 earlier on PATH cannot import the Debian package.
# Set KEEP=1 to keep the temporary directory (config, database, mails, logs), NO_BUILD=1 to
# use the binaries as built, YUQING_BIN=path to measure another yuqing binary.
set -euo pipefail

N=${1:-1000}
M=${2:-20}
MATCH_RATE=0.05
SYS_PYTHON=/usr/bin/python3

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BIN=${YUQING_BIN:-$ROOT/target/release/yuqing}  # YUQING_BIN=path: measure another build

die() { echo "e2e: $*" >&2; exit 1; }

[[ $N =~ ^[0-9]+$ && $N -ge 1 ]] || die "N must be a positive integer (got '$N')"
[[ $M =~ ^[0-9]+$ && $M -ge 1 ]] || die "M must be a positive integer (got '$M')"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
"$SYS_PYTHON" -c 'import aiosmtpd' 2>/dev/null \
    || die "$SYS_PYTHON cannot import aiosmtpd (apt-get install python3-aiosmtpd)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/yuqing-e2e.XXXXXX")
CFG=$WORK/config
MAILDIR=$WORK/maildir
HTTP_PID=
SMTP_PID=
SINK_PID=
FEED_PID=

cleanup() {
    local pid
    for pid in "$HTTP_PID" "$SMTP_PID" "$SINK_PID" "$FEED_PID"; do
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "e2e: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_listen() { # port name pid
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$3" 2>/dev/null || die "$2 exited early; see $WORK/$2.log"
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "$2 is not listening on 127.0.0.1:$1 after 10 s"
}

# CPU seconds (user + system) used so far by the peer servers that are running: the
# HTTP server and the SMTP sink share the 2 cores with the client being measured, so a
# cycle cannot take less wall time than (client CPU + peers' CPU) / cores.
# With arguments: only those processes (the SMTP sink alone, say).
peers_cpu() {
    local pid total=0 ticks pids=("$HTTP_PID" "$SMTP_PID" "$SINK_PID" "$FEED_PID")
    [[ $# -gt 0 ]] && pids=("$@")
    ticks=$(getconf CLK_TCK)
    for pid in "${pids[@]}"; do
        [[ -n $pid && -r /proc/$pid/stat ]] || continue
        # Fields 14 and 15 (utime, stime), counted after the ") " that ends the command name.
        total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
    done
    awk -v t="$total" -v k="$ticks" 'BEGIN { printf "%.2f", t / k }'
}

count_mail() {
    if [[ ${SINK:-aiosmtpd} == fast ]]; then
        cat "$WORK/sink.count" 2>/dev/null || echo 0
        return
    fi
    local files
    shopt -s nullglob
    files=("$MAILDIR"/new/*)
    shopt -u nullglob
    echo "${#files[@]}"
}

# --- build --------------------------------------------------------------------
if [[ ${NO_BUILD:-0} != 1 ]]; then
    echo "e2e: building release binary ..." >&2
    cargo build --release --quiet --bin yuqing --example smtp_sink --example feed_server
fi
[[ -x $BIN ]] || die "$BIN not built"
SINK_BIN=$ROOT/target/release/examples/smtp_sink
FEED_BIN=$ROOT/target/release/examples/feed_server

# --- generate -----------------------------------------------------------------
HTTP_PORT=$(free_port)
SMTP_PORT=$(free_port)
while [[ $SMTP_PORT == "$HTTP_PORT" ]]; do SMTP_PORT=$(free_port); done

python3 "$ROOT/bench/gen_feeds.py" --out "$CFG" --feeds "$N" --items "$M" \
    --match-rate "$MATCH_RATE" --http-port "$HTTP_PORT" --smtp-port "$SMTP_PORT" >&2
MATCHING=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["matching_items"])' \
    "$CFG/expected.json")

# --- servers ------------------------------------------------------------------
# Feed server: the standard library's http.server (SimpleHTTPRequestHandler on a
# ThreadingHTTPServer, what `python3 -m http.server` runs). It sends
# Last-Modified and answers If-Modified-Since with 304. Two changes from the
# module's command line: a listen backlog of 1024 instead of 5, so that 16
# parallel connects are not dropped and retried after a 1 s SYN timeout (which
# would be measured as our latency), and no per-request logging to stderr.
python3 - "$HTTP_PORT" "$CFG/feeds" >"$WORK/http.log" 2>&1 <<'PY' &
import functools, http.server, sys

class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True

handler = functools.partial(Handler, directory=sys.argv[2])
Server(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
PY
HTTP_PID=$!

mkdir -p "$MAILDIR"/{cur,new,tmp}  # a complete Maildir: the handler only creates one when the path is missing
"$SYS_PYTHON" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
    -c aiosmtpd.handlers.Mailbox "$MAILDIR" >"$WORK/smtp.log" 2>&1 &
SMTP_PID=$!

wait_listen "$HTTP_PORT" http "$HTTP_PID"
wait_listen "$SMTP_PORT" smtp "$SMTP_PID"

# --- report header --------------------------------------------------------------
CMD=("$BIN" --config "$CFG" run --once)
echo "## yuqing end-to-end benchmark"
echo
echo "- date: $(date '+%Y-%m-%d %H:%M:%S %z')"
echo "- machine: $(nproc) CPUs, $(lscpu | grep 'Model name' | sed 's/^Model name:[[:space:]]*//')"
echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "- script: bench/e2e.sh $N $M"
echo "- workload: $N feeds x $M items = $((N * M)) items, $MATCHING contain a keyword (match rate $MATCH_RATE)"
echo "- command: \`/usr/bin/time -f '%e %U %S %M' ${CMD[*]}\`"
echo
echo "| run | wall s | CPU s (user+sys) | peak RSS MB | emails | exit | peers' CPU s | floor s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"

# --- runs ---------------------------------------------------------------------
declare -A RESULT  # label -> "wall cpu rss emails"
run_once() { # label [command ...] (default: yuqing run --once)
    local label=$1 before after rc wall user sys rss peers_before peers_after smtp_before smtp_after
    shift
    local cmd=("${CMD[@]}")
    [[ $# -gt 0 ]] && cmd=("$@")
    before=$(count_mail)
    peers_before=$(peers_cpu)
    smtp_before=$(peers_cpu "$SMTP_PID")
    set +e
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.$label" \
        "${cmd[@]}" >"$WORK/run.$label.log" 2>&1
    rc=$?
    set -e
    after=$(count_mail)
    peers_after=$(peers_cpu)
    smtp_after=$(peers_cpu "$SMTP_PID")
    read -r wall user sys rss < <(tail -n 1 "$WORK/time.$label")
    awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
        -v e="$((after - before))" -v rc="$rc" -v pc="$(awk -v a="$peers_before" -v b="$peers_after" 'BEGIN { print b - a }')" \
        -v n="$(nproc)" \
        'BEGIN { printf "| %s | %.2f | %.2f | %.1f | %d | %d | %.2f | %.2f |\n", l, w, u + s, r / 1024, e, rc, pc, (u + s + pc) / n }'
    RESULT[$label]=$(awk -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v e="$((after - before))" \
        -v pc="$(awk -v a="$peers_before" -v b="$peers_after" 'BEGIN { print b - a }')" \
        -v sc="$(awk -v a="$smtp_before" -v b="$smtp_after" 'BEGIN { print b - a }')" \
        'BEGIN { printf "%.2f %.2f %.1f %d %.2f %.2f", w, u + s, r / 1024, e, pc, sc }')
    if [[ $rc -ne 0 ]]; then
        echo "e2e: $label run exited with $rc; last lines of its log:" >&2
        tail -n 20 "$WORK/run.$label.log" >&2
    fi
}

run_once "cold, Python peers"
run_once "warm, Python peers"

# The tuned Python monitor, same feeds, same servers, its own empty state.
PEER=("$SYS_PYTHON" "$ROOT/bench/peer_monitor.py" --config "$CFG" --state "$WORK/peer.db")
run_once "cold, Python monitor" "${PEER[@]}"
run_once "warm, Python monitor" "${PEER[@]}"

# The same workload again, from an empty database, against two minimal Rust peers:
# examples/feed_server.rs (HTTP/1.1 keep-alive, ETag/Last-Modified, 304) and
# examples/smtp_sink.rs (accepts and counts mail, stores nothing). With Python's
# http.server (a new connection per request, ~0.5 s per 1,000 requests here) and
# aiosmtpd (~2.7 ms of its own per message, even with a Python client), the peers
# dominate the runs above; this pair measures yuqing's own cost.
SINK_PORT=$(free_port)
"$SINK_BIN" "127.0.0.1:$SINK_PORT" "$WORK/sink.count" >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
FEED_PORT=$(free_port)
"$FEED_BIN" "127.0.0.1:$FEED_PORT" "$CFG/feeds" >"$WORK/feed.log" 2>&1 &
FEED_PID=$!
wait_listen "$SINK_PORT" sink "$SINK_PID"
wait_listen "$FEED_PORT" feed "$FEED_PID"
sed -i "s/^port = $SMTP_PORT\$/port = $SINK_PORT/" "$CFG/yuqing.toml"
grep -q "^port = $SINK_PORT\$" "$CFG/yuqing.toml" || die "could not point yuqing.toml at the fast sink"
sed -i "s#http://127.0.0.1:$HTTP_PORT/#http://127.0.0.1:$FEED_PORT/#" "$CFG/sources.toml"
rm -rf "$CFG/state"
SINK=fast
run_once "cold, Rust peers"
run_once "warm, Rust peers"

# --- side by side ---------------------------------------------------------------
side() { # cycle
    local y p
    read -r -a y <<<"${RESULT["$1, Python peers"]}"
    read -r -a p <<<"${RESULT["$1, Python monitor"]}"
    awk -v c="$1" -v yw="${y[0]}" -v yc="${y[1]}" -v yr="${y[2]}" -v ye="${y[3]}" \
        -v pw="${p[0]}" -v pc="${p[1]}" -v pr="${p[2]}" -v pe="${p[3]}" \
        'BEGIN { printf "| %s | %.2f / %.2f / %.1f / %d | %.2f / %.2f / %.1f / %d | %.1f× |\n",
                 c, yw, yc, yr, ye, pw, pc, pr, pe, (yw > 0 ? pw / yw : 0) }'
}
echo
echo "Same feeds, same Python peers (http.server + aiosmtpd), wall s / CPU s / peak RSS MB / emails:"
echo
echo "| cycle | yuqing | Python monitor (bench/peer_monitor.py) | yuqing faster by |"
echo "|---|---|---|---:|"
side cold
side warm

# What the peers alone cost in yuqing's cold cycle bounds any client on this machine: the
# servers' CPU over the cores, even for a client that computed nothing.
read -r -a y <<<"${RESULT["cold, Python peers"]}"
read -r -a p <<<"${RESULT["cold, Python monitor"]}"
# aiosmtpd is one asyncio thread: its own CPU is a floor of its own, whatever the cores.
awk -v pc="${y[4]}" -v sc="${y[5]}" -v ps="${p[5]}" -v n="$(nproc)" -v pw="${p[0]}" \
    'BEGIN { printf "\nCold cycle: the peer servers used %.2f CPU s beside yuqing, so no client can finish it here in less than %.2f s (their CPU over %d cores); aiosmtpd alone used %.2f CPU s on its one thread (%.2f s in the Python monitor'"'"'s cold cycle), a floor whatever the cores; a tenth of the Python monitor is %.2f s.\n", pc, pc / n, n, sc, ps, pw / 10 }'
