#!/usr/bin/env bash
# One big feed: N items in one RSS file, read by `yuqing run --once` from disk (no HTTP),
# alerts written as .eml files. Shows whether a big source costs what the same items cost
# spread over many sources (issue 20 item 4): wall, CPU and peak RSS for each N given.
#
# usage: bench/big_feed.sh [N ...]       (default: 25000 50000 200000)
#
# Items are short (~40 characters of Chinese text), 0.5 % contain a keyword, the body limit
# is raised to 64 MiB. Needs python3 and /usr/bin/time. YUQING_BIN=path measures another
# build, NO_BUILD=1 skips the build, KEEP=1 keeps the temporary directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BIN=${YUQING_BIN:-$ROOT/target/release/yuqing}
[[ -x /usr/bin/time ]] || { echo "big_feed: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
[[ ${NO_BUILD:-0} == 1 || -n ${YUQING_BIN:-} ]] || cargo build --release --locked --quiet
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(25000 50000 200000)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/yuqing-big.XXXXXX")
[[ ${KEEP:-0} == 1 ]] && echo "big_feed: keeping $WORK" >&2 || trap 'rm -rf "$WORK"' EXIT

printf '| items | body MB | wall s | CPU s | peak RSS MiB | documents | alerts |\n|---:|---:|---:|---:|---:|---:|---:|\n'
for N in "${SIZES[@]}"; do
    CFG=$WORK/$N
    mkdir -p "$CFG/keywords" "$CFG/state" "$CFG/outbox"
    echo "退役士兵" > "$CFG/keywords/big.txt"
    python3 - "$CFG/feed.xml" "$N" <<'PY'
import sys, email.utils, datetime as dt
path, n = sys.argv[1], int(sys.argv[2])
words = "市民 社区 街道 公园 道路 改造 活动 服务 志愿者 图书馆 公交 供暖 垃圾分类 医院 学校 食堂".split()
base = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
with open(path, "w", encoding="utf-8") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>big</title>'
            '<link>http://127.0.0.1/</link><description>big feed</description>\n')
    for i in range(n):
        body = "".join(words[(i * 7 + k * 3) % len(words)] for k in range(12)) + f"第{i}号"
        if i % 200 == 0:
            body += "退役士兵安置问题"
        when = email.utils.format_datetime(base - dt.timedelta(seconds=i))
        f.write(f"<item><title>消息{i}</title><link>http://127.0.0.1/a/{i}</link>"
                f"<guid>big-{i}</guid><pubDate>{when}</pubDate><description>{body}</description></item>\n")
    f.write("</channel></rss>\n")
PY
    cat > "$CFG/sources.toml" <<TOML
[[source]]
id = "big"
name = "big feed"
kind = "feed"
url = "feed.xml"
schedule = "*/10 * * * *"
TOML
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
    MB=$(du -m "$CFG/feed.xml" | cut -f1)
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time-$N" "$BIN" --config "$CFG" run --once > "$WORK/log-$N" 2>&1 \
        || { echo "big_feed: run failed for $N items, see $WORK/log-$N" >&2; KEEP=1; tail -5 "$WORK/log-$N" >&2; exit 1; }
    read -r WALL USR SYS RSS < "$WORK/time-$N"
    DOCS=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from documents").fetchone()[0])' "$CFG/state/yuqing.db")
    ALERTS=$(find "$CFG/outbox" -name '*.eml' | wc -l)
    printf '| %s | %s | %s | %.2f | %.1f | %s | %s |\n' "$N" "$MB" "$WALL" "$(echo "$USR + $SYS" | bc)" "$(echo "$RSS / 1024" | bc -l)" "$DOCS" "$ALERTS"
done
