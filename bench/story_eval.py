#!/usr/bin/env python3
"""Story-labelled evaluation of event clustering (issue 13), on a corpus generated here
(our own text; no third-party data):

- template stories: many different stories written from the same boilerplate sentences
  bureaus publish, differing in place, programme and figures (never one story);
- rewrites: each of several stories copied, re-prefixed, rewritten with synonyms,
  reordered, summarised and quoted across >= 5 sites (always one story);
- reposts: a Weibo post reposted with comments ("转发微博：…//原文").

Every document goes through the product's own `yuqing test match --jsonl` (event ids within
the batch). Prints pairwise precision and recall of "same event", the recall on the rewrite
set, and the share of template documents that share an event with another story.

Usage: bench/story_eval.py [--bin target/release/yuqing] [--seed 1] [--config DIR]
"""
import argparse, itertools, json, os, random, subprocess, sys, tempfile, collections

PLACES = ["洛阳市", "南充市", "无锡市", "运城市", "昆明市", "临江市", "宜宾市", "绵阳市", "襄阳市", "赣州市",
          "株洲市", "柳州市", "遵义市", "曲靖市", "天水市", "榆林市", "吉林市", "大同市", "泰州市", "湖州市"]
PROGRAMMES = ["双拥工作", "优抚金发放", "烈属慰问金", "定期定量补助", "退役军人就业创业", "军休干部服务管理",
              "光荣之家挂牌", "伤残抚恤", "烈士褒扬", "退役士兵安置"]
ACTIONS = ["印发{p}实施方案", "开展{p}政策宣传活动", "召开{p}推进会", "通报{p}典型案例", "部署{p}专项检查"]
BOILER = [
    "活动现场，工作人员向群众详细解读了{p}相关政策，发放宣传资料{n}余份。",
    "会议强调，要提高政治站位，压实工作责任，确保{p}各项任务落到实处。",
    "下一步，{place}将持续推进{p}工作提质增效，切实增强人民群众的获得感、幸福感、安全感。",
    "据悉，今年以来全市{p}工作扎实开展，走访慰问{n}户。",
]
SOURCES = ["gov", "daily", "evening", "tv", "wechat", "forum", "portal"]
SYN = [("近日", "日前"), ("开展", "举办"), ("工作人员", "相关负责人"), ("群众", "市民"), ("详细解读了", "解读了"),
       ("确保", "保证"), ("切实", "进一步"), ("召开", "举行"), ("印发", "出台"), ("今年以来", "年初以来")]


def template_story(rng, place, programme, action):
    title = place + action.format(p=programme)
    n = rng.randint(50, 900)
    lead = f"近日，{place}退役军人事务局{action.format(p=programme)}。"
    body = lead + "".join(s.format(p=programme, place=place, n=n) for s in rng.sample(BOILER, 3))
    return title, body


def rewrites(rng, title, body):
    """Six versions of one story as other sites carry it."""
    sentences = [s + "。" for s in body.split("。") if s]
    syn = body
    for a, b in SYN:
        syn = syn.replace(a, b)
    reordered = sentences[:1] + rng.sample(sentences[1:], len(sentences) - 1)
    return [
        (title, body),
        ("【转载】" + title, f"{body}（来源：{rng.choice(['临江日报', '新华网', '人民网'])}）"),
        (title.replace("退役军人事务局", ""), syn),
        (title, "".join(reordered)),
        (title + "（摘要）", sentences[0] + (sentences[1] if len(sentences) > 1 else "")),
        ("", f"转发微博：{rng.choice(['支持！', '点赞', '这个要关注'])}//{title}。{sentences[0]}"),
    ]


def corpus(rng):
    docs = []  # (story, kind, title, text)
    story = 0
    used = set()
    # Template stories: one document each, all different stories.
    for place in PLACES:
        for programme in rng.sample(PROGRAMMES, 4):
            action = rng.choice(ACTIONS)
            used.add((place, programme))
            t, b = template_story(rng, place, programme, action)
            docs.append((story, "template", t, b))
            story += 1
    # Rewritten stories: each carried by >= 5 sites.
    for _ in range(15):
        while True:
            place, programme = rng.choice(PLACES), rng.choice(PROGRAMMES)
            if (place, programme) not in used:
                used.add((place, programme))
                break
        t, b = template_story(rng, place, programme, rng.choice(ACTIONS))
        for title, text in rewrites(rng, t, b):
            docs.append((story, "rewrite", title, text))
        story += 1
    rng.shuffle(docs)
    return docs


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--bin", default=os.path.join(here, "target/release/yuqing"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--config", default=here, help="config directory (its state/ is opened)")
    args = ap.parse_args()
    docs = corpus(random.Random(args.seed))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "docs.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for _, _, title, text in docs:
                f.write(json.dumps({"title": title, "text": text}, ensure_ascii=False) + "\n")
        out = subprocess.run([args.bin, "--config", args.config, "test", "match", "--jsonl", path],
                             check=True, capture_output=True, text=True).stdout
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert len(events) == len(docs), (len(events), len(docs))
    tp = fp = fn = 0
    for (a, ea), (b, eb) in itertools.combinations(zip(docs, events), 2):
        same_story, same_event = a[0] == b[0], ea == eb
        tp += same_story and same_event
        fp += (not same_story) and same_event
        fn += same_story and not same_event
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    # Rewrite recall: pairs within rewrite stories.
    rw = [(d, e) for d, e in zip(docs, events) if d[1] == "rewrite"]
    rtp = sum(1 for (a, ea), (b, eb) in itertools.combinations(rw, 2) if a[0] == b[0] and ea == eb)
    rpairs = sum(1 for a, b in itertools.combinations(rw, 2) if a[0][0] == b[0][0])
    # Template documents sharing an event with a document of another story.
    stories_in = collections.defaultdict(set)
    for d, e in zip(docs, events):
        stories_in[e].add(d[0])
    templates = [(d, e) for d, e in zip(docs, events) if d[1] == "template"]
    merged = sum(1 for d, e in templates if len(stories_in[e]) > 1)
    print(f"documents {len(docs)} ({len(templates)} template stories, {len(rw)} copies of "
          f"{len({d[0] for d, _ in rw})} rewritten stories); events {len(set(events))}")
    print(f"pairwise same-event precision {precision:.3f}, recall {recall:.3f}")
    print(f"rewrite-set recall {rtp / rpairs:.3f} ({rtp}/{rpairs} pairs)")
    print(f"template documents merged with another story: {merged}/{len(templates)} "
          f"({100 * merged / len(templates):.2f} %)")


if __name__ == "__main__":
    sys.exit(main())
