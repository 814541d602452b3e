#!/usr/bin/env bash
# Runs the whole suite with the clock moved ahead (default: a month, then a year), to find
# tests that depend on today's date. Uses libfaketime (Debian's `faketime`, installed if
# missing) on the test binaries only, so cargo's own file times are not disturbed; the
# `yuqing` binaries and the SMTP server the tests start inherit the moved clock.
#
#   scripts/test-clock.sh              # +31 days, then +366 days
#   scripts/test-clock.sh +90d         # one offset (libfaketime's "+Nd" / "+Nh" syntax)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v faketime >/dev/null; then
    echo "installing faketime..." >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || true
    $SUDO apt-get install -y -qq faketime
fi
lib=$(dpkg -L libfaketime 2>/dev/null | grep 'libfaketime.so.1$' | head -n1)
[ -n "$lib" ] || { echo "libfaketime.so.1 not found" >&2; exit 2; }

offsets=("$@")
[ ${#offsets[@]} -gt 0 ] || offsets=(+31d +366d)

# The test binaries, built once on the real clock.
mapfile -t binaries < <(cargo test --locked --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])')

status=0
for offset in "${offsets[@]}"; do
    echo "== clock ${offset}" >&2
    for bin in "${binaries[@]}"; do
        # The real-clock tests (the scheduler's, and the daemons killed on one PostgreSQL)
        # watch minute boundaries for minutes; the moved clock changes nothing there.
        if ! LD_PRELOAD="$lib" FAKETIME="$offset" FAKETIME_DONT_RESET=1 "$bin" \
            --skip the_daemon_runs_each_source_once_per_due_time_on_the_real_clock \
            --skip daemons_killed_at_random_moments_lose_nothing_and_duplicate_nothing -q; then
            echo "FAILED at clock ${offset}: ${bin}" >&2
            status=1
        fi
    done
done
exit $status
