#!/usr/bin/env python3
"""Prepare the two public Weibo rumour sets for `bench/rumour_eval.sh`, and print tables.

  rumour_data.py prepare OUT_DIR   -- converts, removes the cross-set overlap, splits 80/20
  rumour_data.py table RESULT...   -- markdown rows from `yuqing rumour eval --json` outputs

Reads ../shared/data (or $YUQING_DATA); writes only under OUT_DIR (meant to be /tmp).
Nothing from the data is printed: only counts. Standard library only.

Overlap: a post is identified by a key made of its text after NFKC, with zero-width
characters, URLs, @mentions, whitespace and punctuation removed. A key found in both sets
is overlap; "X minus overlap" drops every such post from X. Within each set the 80/20
split is by a hash of the key, so duplicates of one post always land on the same side.
"""
import hashlib
import json
import os
import re
import sys
import unicodedata

ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad]")
URL = re.compile(r"(?:https?://|www\.|t\.cn/)[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]*|O?网页链接", re.I)
MENTION = re.compile(r"@[\w\-]{1,20}")
NON_WORD = re.compile(r"[\W_]+")


def key(text):
    t = unicodedata.normalize("NFKC", text)
    t = ZERO_WIDTH.sub("", t)
    t = URL.sub("", t)
    t = MENTION.sub("", t)
    return NON_WORD.sub("", t).lower()


def label_of(v):
    if v in (1, True, "rumor", "rumour", "1"):
        return 1
    if v in (0, False, "non-rumor", "non-rumour", "0"):
        return 0
    return None


def load(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                o = json.loads(line)
            except ValueError:
                continue
            text, label = o.get("text"), label_of(o.get("label"))
            if isinstance(text, str) and label is not None:
                rows.append({"text": text, "label": label, "key": key(text)})
    return rows


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"text": r["text"], "label": r["label"]}, ensure_ascii=False) + "\n")
    pos = sum(r["label"] for r in rows)
    print(f"  {os.path.basename(path)}: {len(rows)} posts, {pos} rumours, {len(rows) - pos} others")


def in_test_fifth(k):
    return int(hashlib.sha1(k.encode("utf-8")).hexdigest()[:8], 16) % 5 == 0


def prepare(out):
    data = os.environ.get("YUQING_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
    sets = {
        "ced": load(os.path.join(data, "rumour_ced_thunlp", "ced_originals.jsonl")),
        "rumdect": load(os.path.join(data, "rumour_rumdect_weibo2016", "rumdect_sources.jsonl")),
    }
    os.makedirs(out, exist_ok=True)
    keys = {name: {r["key"] for r in rows} for name, rows in sets.items()}
    shared = keys["ced"] & keys["rumdect"]
    for name, rows in sets.items():
        n_over = sum(r["key"] in shared for r in rows)
        conflicts = 0
        other = sets["rumdect" if name == "ced" else "ced"]
        other_label = {r["key"]: r["label"] for r in other}
        conflicts = sum(1 for r in rows if r["key"] in other_label and other_label[r["key"]] != r["label"])
        print(f"{name}: {len(rows)} labelled posts, {len(keys[name])} distinct keys, "
              f"{n_over} posts overlap the other set ({conflicts} with the opposite label)")
        write(os.path.join(out, f"{name}.jsonl"), rows)
        write(os.path.join(out, f"{name}_minus_overlap.jsonl"), [r for r in rows if r["key"] not in shared])
        write(os.path.join(out, f"{name}_train80.jsonl"), [r for r in rows if not in_test_fifth(r["key"])])
        write(os.path.join(out, f"{name}_test20.jsonl"), [r for r in rows if in_test_fifth(r["key"])])
    both = [r for rows in sets.values() for r in rows]
    write(os.path.join(out, "both_train80.jsonl"), [r for r in both if not in_test_fifth(r["key"])])
    write(os.path.join(out, "both_test20.jsonl"), [r for r in both if in_test_fifth(r["key"])])


def table(paths):
    print("| experiment | method | n | precision | recall | F1 | accuracy | AUC |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for p in paths:
        with open(p, encoding="utf-8") as f:
            r = json.load(f)
        name = os.path.splitext(os.path.basename(p))[0]
        t = r.get("threshold")
        rt = r.get("review_threshold")
        for method, label in (("cues", "cue lists"), ("model", f"model flag (t={t:.2f})" if t is not None else "model"),
                              ("combined", "cues OR model flag"),
                              ("with_review_band", f"model flag + 待核实 (≥{rt:.2f})" if rt is not None else "")):
            m = r.get(method)
            if not m:
                continue
            print(f"| {name} | {label} | {m['count']} | {m['precision']:.3f} | {m['recall']:.3f} | "
                  f"{m['f1']:.3f} | {m['accuracy']:.3f} | {m['auc']:.3f} |")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "prepare":
        prepare(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "table":
        table(sys.argv[2:])
    else:
        sys.exit(__doc__)
