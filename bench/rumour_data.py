#!/usr/bin/env python3
"""Prepare the two public Weibo rumour sets for `bench/rumour_eval.sh`, and print tables.

  rumour_data.py prepare OUT_DIR [--window-hours H] [--max-comments K]
                                   -- converts, removes the cross-set overlap, splits 80/20
                                      and by year (SET_until_2012, SET_from_2013)
  rumour_data.py table RESULT...   -- markdown rows from `yuqing rumour eval --json` outputs
  rumour_data.py nocomments IN OUT -- a copy of a prepared file without the comments

Reads ../shared/data (or $YUQING_DATA); writes only under OUT_DIR (meant to be /tmp).
Nothing from the data is printed: only counts. Standard library only.

Overlap: a post is identified by a key made of its text after NFKC, with zero-width
characters, URLs, @mentions, whitespace and punctuation removed. A key found in both sets
is overlap; "X minus overlap" drops every such post from X. Within each set the 80/20
split is by a hash of the key, so duplicates of one post always land on the same side.

Later years: within each set, one copy per key (keys whose copies disagree on the label
dropped), the posts of 2010-2012 (Beijing time; a key with any copy from then belongs there)
and those of 2013-2015, for training on one period and testing on the other. Posts whose time
cannot be read are left out of both.

Early responses: each post gets `"comments": [text, ...]`, the texts of its reposts and
comments (CED `ced_reposts.jsonl.gz` by `source_file`, Rumdect
`rumdect_responses_sample.jsonl.gz` by `eid`) that were written at most H hours after the
post (default 24; from one minute before it, for clock skew) and are not empty, ordered by
time, at most K (default 50; Rumdect's sample holds at most 50 per post, its earliest).
Weibo's default text of a plain repost ("转发微博") counts as empty: CED stores plain reposts
with no text, Rumdect with that text, so keeping it would teach the model which set a post
came from. `--max-comments 0` writes no comments at all. Responses from later are left out on
purpose: days after a post they repeat the eventual debunking, which an office judging within
its 24-hour window does not have yet.
"""
import datetime
import gzip
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


BEIJING = datetime.timezone(datetime.timedelta(hours=8))
# Weibo's own text of a repost without words of its own.
DEFAULT_REPOST = {"转发微博", "轉發微博", "repost"}


def unix_time(v, year_hint=None):
    """Unix seconds from CED/Rumdect time fields: an int, "2012-09-16 15:04:05" or
    "Tue Sep 11 19:23:20 +0800 2012" (Beijing time unless an offset is given), or
    "07月23日 11:47" (no year: `year_hint`'s). None when unreadable."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if not isinstance(v, str):
        return None
    v = v.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%a %b %d %H:%M:%S %z %Y"):
        try:
            d = datetime.datetime.strptime(v, fmt)
        except ValueError:
            continue
        return (d if d.tzinfo else d.replace(tzinfo=BEIJING)).timestamp()
    if year_hint is not None:
        try:
            d = datetime.datetime.strptime(f"{year_hint} {v}", "%Y %m月%d日 %H:%M")
            return d.replace(tzinfo=BEIJING).timestamp()
        except ValueError:
            return None
    return None


def early(t0, responses, window_hours, max_comments):
    """The texts of `responses` ([(time, order, text)]) in the window after t0, by time."""
    if t0 is None or max_comments <= 0:
        return []
    lo, hi = t0 - 60, t0 + window_hours * 3600
    kept = sorted((t, i, x) for t, i, x in responses if t is not None and lo <= t <= hi)
    return [x for _, _, x in kept[:max_comments]]


def response_text(v):
    if not isinstance(v, str):
        return ""
    v = v.strip()
    return "" if v.lower() in DEFAULT_REPOST else v


def load_responses(path, link, time_field, times):
    """{link value: [(unix time, file order, text)]} of the non-empty responses in a gzipped
    JSONL file; `times` maps a link value to its post's time (for dates without a year)."""
    out = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            try:
                o = json.loads(line)
            except ValueError:
                continue
            text, parent = response_text(o.get("text")), o.get(link)
            if not text or parent is None:
                continue
            t0 = times.get(parent)
            hint = datetime.datetime.fromtimestamp(t0, BEIJING).year if t0 is not None else None
            out.setdefault(parent, []).append((unix_time(o.get(time_field), hint), i, text))
    return out


def load(path, link=None, time_field=None):
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
                rows.append({"text": text, "label": label, "key": key(text),
                             "link": o.get(link) if link else None,
                             "time": unix_time(o.get(time_field)) if time_field else None})
    return rows


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            line = {"text": r["text"], "label": r["label"]}
            if "comments" in r:
                line["comments"] = r["comments"]
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    pos = sum(r["label"] for r in rows)
    with_any = sum(1 for r in rows if r.get("comments"))
    n_comments = sum(len(r.get("comments", [])) for r in rows)
    print(f"  {os.path.basename(path)}: {len(rows)} posts, {pos} rumours, {len(rows) - pos} others; "
          f"{with_any} with >=1 early comment ({sum(1 for r in rows if r.get('comments') and r['label'])} "
          f"rumours), {n_comments} comments")


def in_test_fifth(k):
    return int(hashlib.sha1(k.encode("utf-8")).hexdigest()[:8], 16) % 5 == 0


def prepare(out, window_hours=24.0, max_comments=50):
    data = os.environ.get("YUQING_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
    ced_dir, rumdect_dir = os.path.join(data, "rumour_ced_thunlp"), os.path.join(data, "rumour_rumdect_weibo2016")
    sets = {
        "ced": load(os.path.join(ced_dir, "ced_originals.jsonl"), "file", "time"),
        "rumdect": load(os.path.join(rumdect_dir, "rumdect_sources.jsonl"), "eid", "t"),
    }
    responses = {"ced": ("ced_reposts.jsonl.gz", ced_dir, "source_file", "date"),
                 "rumdect": ("rumdect_responses_sample.jsonl.gz", rumdect_dir, "eid", "t")}
    print(f"early comments: within {window_hours:g} h of the post, at most {max_comments} per post")
    for name, rows in sets.items():
        if max_comments <= 0:
            break
        file, folder, link, time_field = responses[name]
        times = {r["link"]: r["time"] for r in rows if r["time"] is not None}
        by_post = load_responses(os.path.join(folder, file), link, time_field, times)
        for r in rows:
            r["comments"] = early(r["time"], by_post.get(r["link"], []), window_hours, max_comments)
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
    for name, rows in sets.items():
        earlier, later = by_year(rows, SPLIT_YEAR)
        write(os.path.join(out, f"{name}_until_{SPLIT_YEAR - 1}.jsonl"), earlier)
        write(os.path.join(out, f"{name}_from_{SPLIT_YEAR}.jsonl"), later)


# Drift: within one set, train on its posts of 2010-2012 and test on those of 2013-2015 ("posts
# from other years"), and the reverse. Within one set, so that which set a post (or its
# replies) came from cannot stand in for the label.
SPLIT_YEAR = 2013


def by_year(rows, year):
    """A set's posts with a readable time, split into those written before `year`
    (Beijing time) and from `year` on; one post per key (the first), keys whose copies carry
    opposite labels dropped, and every key of the earlier part removed from the later one."""
    labels, first = {}, {}
    for r in rows:
        if r["time"] is None:
            continue
        labels.setdefault(r["key"], set()).add(r["label"])
        first.setdefault(r["key"], r)
    kept = [r for k, r in first.items() if len(labels[k]) == 1]
    def year_of(r):
        return datetime.datetime.fromtimestamp(r["time"], BEIJING).year
    # A key's copies may be dated differently: a key seen before `year` belongs to the earlier part.
    early_keys = {r["key"] for r in rows if r["time"] is not None and year_of(r) < year}
    earlier = [r for r in kept if r["key"] in early_keys]
    later = [r for r in kept if r["key"] not in early_keys]
    return earlier, later


def nocomments(src, dst):
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
        for line in f:
            o = json.loads(line)
            o.pop("comments", None)
            out.write(json.dumps(o, ensure_ascii=False) + "\n")


def table(paths):
    print("| experiment | method | n | precision | recall | F1 | accuracy | AUC |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for p in paths:
        with open(p, encoding="utf-8") as f:
            r = json.load(f)
        name = os.path.splitext(os.path.basename(p))[0]
        if r.get("reaction"):
            name += f" ({r.get('with_comments')} with comments, {r.get('by_reaction_model')} by reaction model)"
        t = r.get("threshold")
        rt = r.get("review_threshold")
        ts = f"{t:.2f}" if t is not None else None
        rts = f"{rt:.2f}" if rt is not None else None
        if r.get("reaction") and r.get("by_reaction_model"):
            # The posts the reaction model judged are cut at its own thresholds: "content / reaction".
            x = r["reaction"]
            mixed = r["by_reaction_model"] < r["count"]
            ts = f"{ts} / {x['threshold']:.2f}" if mixed else f"{x['threshold']:.2f}"
            rts = f"{rts} / {x['review_threshold']:.2f}" if mixed else f"{x['review_threshold']:.2f}"
        for method, label in (("cues", "cue lists"), ("model", f"model flag (t={ts})" if ts is not None else "model"),
                              ("combined", "model flag or confirmed cue"),
                              ("with_review_band", f"model flag + 待核实 (≥{rts})" if rts is not None else "")):
            m = r.get(method)
            if not m:
                continue
            print(f"| {name} | {label} | {m['count']} | {m['precision']:.3f} | {m['recall']:.3f} | "
                  f"{m['f1']:.3f} | {m['accuracy']:.3f} | {m['auc']:.3f} |")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "prepare":
        args, opts = sys.argv[3:], {"--window-hours": 24.0, "--max-comments": 50}
        while args:
            if len(args) < 2 or args[0] not in opts:
                sys.exit(__doc__)
            opts[args[0]] = type(opts[args[0]])(args[1])
            args = args[2:]
        prepare(sys.argv[2], opts["--window-hours"], opts["--max-comments"])
    elif len(sys.argv) == 4 and sys.argv[1] == "nocomments":
        nocomments(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "table":
        table(sys.argv[2:])
    else:
        sys.exit(__doc__)
