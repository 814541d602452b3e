#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the system packages the tests
# need (a real SMTP server, aiosmtpd; chromium; postgresql, all from Debian), then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The delivery tests start aiosmtpd with /usr/bin/python3 (the pyenv python3 on PATH
# cannot import Debian packages).
if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
    echo "installing python3-aiosmtpd (test SMTP server)..." >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || true
    $SUDO apt-get install -y -qq python3-aiosmtpd
fi

# The browser test drives the web console in headless Chromium (Debian's package, with a
# CJK font so the screenshots are readable); without it that one test says it skipped.
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
    echo "installing chromium and a CJK font (browser test of the web console)..." >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || true
    $SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null \
        || echo "could not install chromium: tests/browser.rs will skip" >&2
fi

# tests/postgres.rs starts a throwaway PostgreSQL (scripts/pg.sh) from Debian's package;
# without it those tests say they skipped.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "installing postgresql (tests/postgres.rs)..." >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || true
    # The package's own cluster is not needed: the tests make theirs in a temporary directory.
    $SUDO apt-get install -y -qq postgresql >/dev/null \
        || echo "could not install postgresql: tests/postgres.rs will skip" >&2
fi

# --no-fail-fast: one failing test binary does not hide the others.
exec cargo test --locked --no-fail-fast "$@"
