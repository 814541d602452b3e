#!/usr/bin/env python3
"""Evaluation of viewpoint grouping (网民观点, issue 15 item 3) on real Weibo comments:
the CED corpus's reposts and comments (/work/shared/data/rumour_ced_thunlp/ced_reposts.jsonl.gz),
grouped by their source post. There are no gold viewpoint labels, so this reports what can
be measured:

- groups per post, coverage (share of grouped comments inside the viewpoints), noise share;
- cohesion: mean character-bigram Jaccard of two comments in one viewpoint, against two
  comments in different viewpoints of the same post, and against a random partition with
  the same group sizes (chance level);
- stance purity: within a viewpoint, the share of comments with a leaning (support or
  opposition cue, or a negative lexicon word) whose sign is the viewpoint's majority sign
  (by construction opposite signs never share a group, so this mostly checks the
  reassignment), and the share of comments containing a negative-lexicon word, per
  viewpoint leaning (an independent look at "负面" groups: they should hold far more).

Every post goes through the product's own `yuqing test viewpoints --jsonl` (the data are
converted into a temporary file outside the repository; nothing is written into it). No
text is printed unless --show N is given (for a hand check in the terminal; never paste the
output into docs).

Usage: bench/viewpoints_eval.py [--bin target/release/yuqing] [--posts 200] [--min 30]
                                [--cap 500] [--config DIR] [--show 0]
"""
import argparse, collections, gzip, itertools, json, os, random, re, statistics, subprocess, sys, tempfile
from datetime import datetime, timedelta, timezone

DATA = "/work/shared/data/rumour_ced_thunlp/ced_reposts.jsonl.gz"
BJ = timezone(timedelta(hours=8))


def clean(text):
    text = text.split("//@")[0]
    text = re.sub(r"^回复@[^:：\s]+[:：]", "", text)
    text = re.sub(r"@[^\s:：]+", "", text)
    text = re.sub(r"\[[^\]]{1,8}\]", "", text)
    text = re.sub(r"https?://\S+", "", text)
    return "".join(c.lower() for c in text if c.isalnum())


def bigrams(text):
    c = clean(text)
    return {c[i:i + 2] for i in range(len(c) - 1)}


def jaccard(a, b):
    return len(a & b) / len(a | b) if a and b else 0.0


def mean(xs):
    return statistics.fmean(xs) if xs else float("nan")


def load(posts, minimum, cap):
    by_source = collections.defaultdict(list)
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            text = (r.get("text") or "").strip()
            if not text:
                continue
            try:
                t = int(datetime.strptime(r.get("date", ""), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BJ).timestamp())
            except ValueError:
                t = None
            by_source[r.get("source_file", "")].append({"text": text, "time": t, "likes": 0})
    chosen = [k for k in sorted(by_source) if len(by_source[k]) >= minimum][:posts]
    return [(k, sorted(by_source[k], key=lambda c: (c["time"] or 0))[:cap]) for k in chosen]


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(here, "target/release/yuqing"))
    ap.add_argument("--config", default=here)
    ap.add_argument("--posts", type=int, default=200)
    ap.add_argument("--min", type=int, default=30, help="posts with at least this many non-empty comments")
    ap.add_argument("--cap", type=int, default=500, help="at most this many comments per post (the earliest)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show", type=int, default=0, help="print the viewpoints of the first N posts (terminal only)")
    args = ap.parse_args()
    negative = [l.split()[0] for l in open(os.path.join(args.config, "keywords/sentiment/negative.txt"), encoding="utf-8")
                if l.strip() and not l.startswith("#")]

    data = load(args.posts, args.min, args.cap)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as tmp:
        for k, comments in data:
            tmp.write(json.dumps({"id": k, "comments": comments}, ensure_ascii=False) + "\n")
        path = tmp.name
    try:
        out = subprocess.run([args.bin, "--config", args.config, "test", "viewpoints", "--jsonl", path],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(path)
    rows = [json.loads(l) for l in out.splitlines() if l.strip()]
    rng = random.Random(args.seed)

    n_groups, coverage, noise, top_share, comments_total = [], [], [], [], 0
    intra, inter, chance = [], [], []
    purity_num = purity_den = 0
    neg_by_leaning = collections.defaultdict(lambda: [0, 0])
    for (k, comments), row in zip(data, rows):
        comments_total += row["total"]
        grouped = row["total"] - row["noise"]
        noise.append(row["noise"] / row["total"])
        n_groups.append(len(row["groups"]))
        coverage.append(sum(g["size"] for g in row["groups"]) / grouped if grouped else 0.0)
        if row["groups"]:
            top_share.append(row["groups"][0]["share"])
        grams = [bigrams(c["text"]) for c in comments]
        groups = [g["members"] for g in row["groups"]]
        for g in groups:
            pairs = list(itertools.combinations(g[:60], 2))
            intra += [jaccard(grams[a], grams[b]) for a, b in rng.sample(pairs, min(len(pairs), 300))]
        for g, h in itertools.combinations(groups, 2):
            pairs = [(a, b) for a in g[:40] for b in h[:40]]
            inter += [jaccard(grams[a], grams[b]) for a, b in rng.sample(pairs, min(len(pairs), 300))]
        # Chance: the same group sizes drawn at random from the post's non-noise comments.
        pool = [i for i, l in enumerate(row["leanings"]) if l is not None]
        rng.shuffle(pool)
        start = 0
        for g in groups:
            r = pool[start:start + len(g)]
            start += len(g)
            pairs = list(itertools.combinations(r[:60], 2))
            chance += [jaccard(grams[a], grams[b]) for a, b in rng.sample(pairs, min(len(pairs), 300))]
        for g, members in zip(row["groups"], groups):
            signs = [(row["leanings"][m] > 0) - (row["leanings"][m] < 0) for m in members]
            signed = [s for s in signs if s]
            if signed:
                majority = max((1, -1), key=signed.count)
                purity_num += signed.count(majority)
                purity_den += len(signed)
            for m in members:
                cell = neg_by_leaning[g["leaning"]]
                cell[0] += any(w in comments[m]["text"] for w in negative)
                cell[1] += 1
    print(f"posts: {len(rows)} (CED source posts with >= {args.min} non-empty reposts/comments, the earliest "
          f"{args.cap} each); comments: {comments_total}")
    print(f"viewpoints per post: mean {mean(n_groups):.2f}, median {statistics.median(n_groups)}, "
          f"posts with none: {sum(1 for n in n_groups if n == 0)}")
    print(f"noise share (too short / emoji / bare repost): mean {mean(noise):.1%}")
    print(f"coverage (grouped comments inside the viewpoints): mean {mean(coverage):.1%}, "
          f"median {statistics.median(coverage):.1%}; largest viewpoint's share: mean {mean(top_share):.1%}")
    print(f"bigram Jaccard: same viewpoint {mean(intra):.3f} (n={len(intra)}), different viewpoints "
          f"{mean(inter):.3f} (n={len(inter)}), random groups of the same sizes {mean(chance):.3f} (n={len(chance)})")
    print(f"stance purity (members with a leaning whose sign is the group's majority): "
          f"{purity_num / purity_den if purity_den else float('nan'):.1%} of {purity_den}")
    for leaning, (neg, total) in sorted(neg_by_leaning.items()):
        print(f"  {leaning} viewpoints: {total} comments, {neg / total:.1%} contain a negative-lexicon word")
    for (k, comments), row in list(zip(data, rows))[:args.show]:
        print(f"\n# post {k}: {row['total']} comments, noise {row['noise']}, other {row['other']}")
        for g in row["groups"]:
            print(f"  {g['size']:4} {g['share']:.0%} {g['leaning']} neg {g['negativity']} {g['terms']} | {g['representative'][:60]}")


if __name__ == "__main__":
    sys.exit(main())
