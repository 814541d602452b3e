#!/usr/bin/env bash
# Query times on a big store (issue 19 item 5, the SQLite side): fills a database with N
# documents by `yuqing run --once` over feed files read from disk (50,000 items a file), then
# times the commands staff run against it — `event show` of the biggest event, `event list`,
# `hits`, `status`, `events`, `report --format html` — three times each, and prints the median.
#
# usage: bench/query_scale.sh [N]        (default: 1000000)
#
# Texts are random CJK characters (distinct texts share no shingles). 2 % of the items
# contain a keyword: half of those are copies of 200 stories (N / 20,000 copies each, ~50 at
# 1 M; one event per story while it is open), half one-offs (an event each). Alerts are
# written as .eml files. Needs python3 and /usr/bin/time; the database needs ~1.5 KB per
# document on disk. YUQING_BIN=path measures another build, NO_BUILD=1 skips the build,
# KEEP=1 keeps the temporary directory, WORK=dir reuses a filled one (skips the fill).
# PG=1 then copies the store into a throwaway PostgreSQL (scripts/pg.sh, `yuqing db
# migrate-to`, timed) and times the same commands there, a second table.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BIN=${YUQING_BIN:-$ROOT/target/release/yuqing}
N=${1:-1000000}
PER=50000
die() { echo "query_scale: $*" >&2; exit 1; }
[[ $N =~ ^[0-9]+$ && $N -ge 1 ]] || die "N must be a positive integer (got '$N')"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
[[ ${NO_BUILD:-0} == 1 || -n ${YUQING_BIN:-} ]] || cargo build --release --locked --quiet --bin yuqing
[[ -x $BIN ]] || die "$BIN not built"

if [[ -n ${WORK:-} && -f $WORK/state/yuqing.db ]]; then
    FILLED=1
else
    FILLED=0
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/yuqing-scale.XXXXXX")
fi
[[ ${KEEP:-0} == 1 || $FILLED == 1 ]] && echo "query_scale: keeping $WORK" >&2 || trap 'rm -rf "$WORK"' EXIT
CFG=$WORK

if [[ $FILLED == 0 ]]; then
    mkdir -p "$CFG/keywords" "$CFG/state" "$CFG/outbox" "$CFG/feeds"
    printf '退役士兵\n安置补贴\n' > "$CFG/keywords/scale.txt"
    FILES=$(( (N + PER - 1) / PER ))
    python3 - "$CFG/feeds" "$N" "$PER" <<'PY'
import sys, random, email.utils, datetime as dt
out, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def chars(seed, k):  # k random CJK characters: distinct texts share no shingles
    r = random.Random(seed)
    return "".join(chr(r.randrange(0x4E00, 0x9FA6)) for _ in range(k))
stories = [(chars(f"title{s}", 12), chars(f"story{s}", 80)) for s in range(200)]
base = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
for f_no in range((n + per - 1) // per):
    with open(f"{out}/feed-{f_no:03d}.xml", "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>scale</title>'
                '<link>http://127.0.0.1/</link><description>scale</description>\n')
        for i in range(f_no * per, min(n, (f_no + 1) * per)):
            title, body = f"消息{i}", chars(i, 40) + f"第{i}号"
            if i % 100 == 0:  # a copy of one of 200 stories, with a different ending
                title, story = stories[(i // 100) % 200]
                title = title + "退役士兵"
                body = story + f"退役士兵安置补贴。转载{i % 7}"
            elif i % 100 == 50:  # a one-off
                body += "另有市民询问退役士兵优待证办理事项"
            when = email.utils.format_datetime(base - dt.timedelta(seconds=i % 864000))
            f.write(f"<item><title>{title}</title><link>http://127.0.0.1/a/{i}</link>"
                    f"<guid>scale-{i}</guid><pubDate>{when}</pubDate><description>{body}</description></item>\n")
        f.write("</channel></rss>\n")
PY
    for ((f = 0; f < FILES; f++)); do
        printf '[[source]]\nid = "scale-%03d"\nname = "规模测试 %03d"\nkind = "feed"\nurl = "feeds/feed-%03d.xml"\nschedule = "*/10 * * * *"\n\n' \
            "$f" "$f" "$f"
    done > "$CFG/sources.toml"
    cat > "$CFG/yuqing.toml" <<TOML
timezone = "Asia/Shanghai"
[storage]
path = "state/yuqing.db"
[fetch]
max_body_bytes = 67108864
[mail]
transport = "file"
outbox_dir = "outbox"
from = "舆情监测 <yuqing@example.gov.cn>"
to = ["gkb@example.gov.cn"]
TOML
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time-fill" "$BIN" --config "$CFG" run --once > "$WORK/log-fill" 2>&1 \
        || { tail -5 "$WORK/log-fill" >&2; die "the fill run failed, see $WORK/log-fill"; }
    read -r WALL USR SYS RSS < "$WORK/time-fill"
    echo "fill: $N items in $WALL s wall, $(echo "$USR + $SYS" | bc) CPU s, peak RSS $((RSS / 1024)) MiB" >&2
fi

read -r DOCS EVENTS BIG BIGDOCS < <(python3 - "$CFG/state/yuqing.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
docs = db.execute("select count(*) from documents").fetchone()[0]
events = db.execute("select count(*) from events").fetchone()[0]
big, n = db.execute("select event_id, count(*) c from event_documents "
                    "group by event_id order by c desc limit 1").fetchone()
print(docs, events, big, n)
PY
)
echo "## Query times on a store of $DOCS documents"
echo
echo "- date: $(date '+%Y-%m-%d %H:%M:%S %z'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- machine: $(nproc) CPUs, $(lscpu | grep 'Model name' | sed 's/^Model name:[[:space:]]*//')"
echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown); script: bench/query_scale.sh $N"
echo "- database: $(du -m "$CFG/state/yuqing.db" | cut -f1) MB, $EVENTS events, the biggest (#$BIG) with $BIGDOCS documents"
echo
echo "| command | median wall s (3 runs) | CPU s | peak RSS MiB |"
echo "|---|---:|---:|---:|"
timed() { # label command...
    local label=$1 i walls=() cpu rss
    shift
    for i in 1 2 3; do
        /usr/bin/time -f '%e %U %S %M' -o "$WORK/time-q" "$@" > /dev/null 2> "$WORK/log-q" \
            || { tail -3 "$WORK/log-q" >&2; die "'$label' failed"; }
        read -r w u s r < "$WORK/time-q"
        walls+=("$w")
        cpu=$(echo "$u + $s" | bc)
        rss=$((r / 1024))
    done
    printf '| `%s` | %s | %s | %s |\n' "$label" "$(printf '%s\n' "${walls[@]}" | sort -n | sed -n 2p)" "$cpu" "$rss"
}
time_all() { # config dir: the commands staff run, each timed
    local Y=("$BIN" --config "$1")
    timed "event show $BIG" "${Y[@]}" event show "$BIG"
    timed "event list" "${Y[@]}" event list
    timed "events" "${Y[@]}" events
    timed "hits" "${Y[@]}" hits
    timed "status" "${Y[@]}" status
    timed "report --format html" "${Y[@]}" report --format html --from 2026-11-01 --to 2027-01-31
}
time_all "$CFG"

if [[ ${PG:-0} == 1 ]]; then
    PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/yuqing-scale-pg.XXXXXX")
    # (Replaces the trap above: stop the server, then what that one removed.)
    trap '"$ROOT/scripts/pg.sh" stop "$PGDIR" >/dev/null 2>&1 || true; rm -rf "$PGDIR"
          [[ ${KEEP:-0} == 1 || $FILLED == 1 ]] || rm -rf "$WORK"' EXIT
    eval "$("$ROOT/scripts/pg.sh" start "$PGDIR")"
    URL=$YUQING_TEST_PG_URL
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time-copy" "$BIN" --config "$CFG" db migrate-to "$URL" > "$WORK/log-copy" 2>&1 \
        || { tail -5 "$WORK/log-copy" >&2; die "migrate-to failed, see $WORK/log-copy"; }
    read -r WALL USR SYS RSS < "$WORK/time-copy"
    PGCFG=$WORK/pg-config
    mkdir -p "$PGCFG"
    cp -r "$CFG/keywords" "$CFG/sources.toml" "$PGCFG/"
    sed "s#^path = .*#url = \"$URL\"#" "$CFG/yuqing.toml" > "$PGCFG/yuqing.toml"
    ln -sfn "$CFG/feeds" "$PGCFG/feeds"
    echo
    echo "## The same store on PostgreSQL"
    echo
    echo "- copied by \`db migrate-to\` in $WALL s wall, $(echo "$USR + $SYS" | bc) CPU s of yuqing, peak RSS $((RSS / 1024)) MiB"
    echo "- server: $(psql -X -A -t "$URL" -c 'SHOW server_version'), scripts/pg.sh's loopback cluster (fsync off), $(psql -X -A -t "$URL" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
    echo
    echo "| command | median wall s (3 runs) | CPU s | peak RSS MiB |"
    echo "|---|---:|---:|---:|"
    time_all "$PGCFG"
fi
