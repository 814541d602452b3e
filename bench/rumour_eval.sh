#!/usr/bin/env bash
# Rumour classifier evaluation on the two public Weibo rumour sets (see EVALUATION.md).
#
#   bench/rumour_eval.sh [OUT_DIR]      (default /tmp/yuqing-rumour)
#
# Needs ../shared/data (or $YUQING_DATA) and python3. Builds the release binary, converts
# the sets to text/label JSONL under OUT_DIR (never in the repository), removes the
# cross-set overlap, then trains and evaluates:
#   within-set   train on 80 % of a set, evaluate on the other 20 % (split by text hash)
#   cross-set    train on all of one set, evaluate on the other set minus the overlap
# Extra arguments for `yuqing rumour train` can be given in $TRAIN_ARGS (e.g. "--l2 1e-5").
# Prints a markdown table of precision/recall/F1/accuracy/AUC for cues, model, combined.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/yuqing-rumour}
cargo build --release --locked --quiet
BIN=$PWD/target/release/yuqing
python3 bench/rumour_data.py prepare "$OUT"
mkdir -p "$OUT/results"
run() { # name train-file test-file
    local name=$1 train=$2 test=$3
    # shellcheck disable=SC2086
    "$BIN" --config . rumour train --data "$OUT/$train.jsonl" --out "$OUT/$name.model" ${TRAIN_ARGS:-} \
        > "$OUT/results/$name.train.txt"
    "$BIN" --config . rumour eval --data "$OUT/$test.jsonl" --model "$OUT/$name.model" --json \
        > "$OUT/results/$name.json"
    grep -h '^阈值' "$OUT/results/$name.train.txt" | sed "s/^/$name: /" >&2
}
start=$(date +%s)
run within_ced ced_train80 ced_test20
run within_rumdect rumdect_train80 rumdect_test20
run within_both both_train80 both_test20
run cross_ced_to_rumdect ced rumdect_minus_overlap
run cross_rumdect_to_ced rumdect ced_minus_overlap
echo "($(( $(date +%s) - start )) s for 5 trainings and evaluations; model sizes:" \
    "$(du -k "$OUT"/*.model | awk '{printf "%s %s KB; ", $2, $1}' | sed "s|$OUT/||g"))" >&2
python3 bench/rumour_data.py table "$OUT"/results/within_*.json "$OUT"/results/cross_*.json
