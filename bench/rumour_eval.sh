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
#   later years  within one set, train on its posts of 2010-2012, evaluate on 2013-2015, and
#                the reverse (drift; one copy per post, no post on both sides)
# Extra arguments for `yuqing rumour train` can be given in $TRAIN_ARGS (e.g. "--l2 1e-5").
# Early responses: every prepared post carries its early replies as "comments" ($PREP_ARGS
# for `rumour_data.py prepare`, default "--window-hours 24 --max-comments 50"); by default
# the models are trained with `--no-comments` (content only). With COMMENTS=1 they are
# trained with `--comments` (a reaction
# model beside the content model), and each cross-set model is also evaluated on its test
# set stripped of comments with the reaction model forced on (`--min-comments 0`): how it
# scores posts that have no replies.
# $YUQING_BIN: a release binary to use instead of building one.
# Prints a markdown table of precision/recall/F1/accuracy/AUC for cues, model, combined.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/yuqing-rumour}
if [ -z "${YUQING_BIN:-}" ]; then cargo build --release --locked --quiet; fi
BIN=${YUQING_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/yuqing}
# shellcheck disable=SC2086
python3 bench/rumour_data.py prepare "$OUT" ${PREP_ARGS:-}
mkdir -p "$OUT/results"
ARGS=${TRAIN_ARGS:-}
if [ "${COMMENTS:-0}" = 1 ]; then ARGS="$ARGS --comments"; else ARGS="$ARGS --no-comments"; fi
run() { # name train-file test-file
    local name=$1 train=$2 test=$3
    # shellcheck disable=SC2086
    "$BIN" --config . rumour train --data "$OUT/$train.jsonl" --out "$OUT/$name.model" $ARGS \
        > "$OUT/results/$name.train.txt"
    "$BIN" --config . rumour eval --data "$OUT/$test.jsonl" --model "$OUT/$name.model" --json \
        > "$OUT/results/$name.json"
    grep -h '^阈值\|^文本+评论模型阈值' "$OUT/results/$name.train.txt" | sed "s/^/$name: /" >&2
}
start=$(date +%s)
run within_ced ced_train80 ced_test20
run within_rumdect rumdect_train80 rumdect_test20
run within_both both_train80 both_test20
run cross_ced_to_rumdect ced rumdect_minus_overlap
run cross_rumdect_to_ced rumdect ced_minus_overlap
for set in ced rumdect; do
    run "later_${set}_2012_to_2013" "${set}_until_2012" "${set}_from_2013"
    run "earlier_${set}_2013_to_2012" "${set}_from_2013" "${set}_until_2012"
done
echo "($(( $(date +%s) - start )) s for 9 trainings and evaluations; model sizes:" \
    "$(du -k "$OUT"/*.model | awk '{printf "%s %s KB; ", $2, $1}' | sed "s|$OUT/||g"))" >&2
extra=()
if [ "${COMMENTS:-0}" = 1 ]; then
    for pair in cross_ced_to_rumdect:rumdect_minus_overlap cross_rumdect_to_ced:ced_minus_overlap; do
        name=${pair%%:*} test=${pair#*:}
        python3 bench/rumour_data.py nocomments "$OUT/$test.jsonl" "$OUT/${test}_nocomments.jsonl"
        "$BIN" --config . rumour eval --data "$OUT/${test}_nocomments.jsonl" --model "$OUT/$name.model" \
            --min-comments 0 --json > "$OUT/results/nocomments_$name.json"
        extra+=("$OUT/results/nocomments_$name.json")
    done
fi
python3 bench/rumour_data.py table "$OUT"/results/within_*.json "$OUT"/results/cross_*.json \
    "$OUT"/results/later_*.json "$OUT"/results/earlier_*.json "${extra[@]}"
