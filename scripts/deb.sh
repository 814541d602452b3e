#!/usr/bin/env bash
# Builds target/debian/yuqing_<version>_<arch>.deb with cargo-deb (`cargo install cargo-deb`).
# The package's /etc/yuqing is the shipped configuration with its state moved to
# /var/lib/yuqing (the unit's StateDirectory=); everything else is as in this repository.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/deb-etc
rm -rf "$out" && mkdir -p "$out"
sed -e 's|^path = "state/yuqing.db"|path = "/var/lib/yuqing/yuqing.db"|' \
    -e 's|^outbox_dir = "outbox"|outbox_dir = "/var/lib/yuqing/outbox"|' yuqing.toml > "$out/yuqing.toml"
grep -q '^path = "/var/lib/yuqing/yuqing.db"' "$out/yuqing.toml"
grep -q '^outbox_dir = "/var/lib/yuqing/outbox"' "$out/yuqing.toml"
exec cargo deb --locked "$@"
