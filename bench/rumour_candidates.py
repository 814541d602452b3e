#!/usr/bin/env python3
"""Screen rumour-model candidates with reference implementations (issue 18, item 1).

  python3 bench/rumour_data.py prepare /tmp/yr-cand          # the prepared sets, as rumour_eval.sh
  python3 bench/rumour_candidates.py /tmp/yr-cand [--only NAME,...] [--experiments NAME,...]
                                   [--c-grid 16,64,256] [--svm-c-grid 1,4,16]

Each run adds (or replaces) its rows in DATA_DIR/candidates/results.json and prints the table
of every row stored there; a changed C grid is stored as a row of its own ("tfidf-lr (C from
...)"). Figures are printed as the project's tables print them (4 decimals, then 3).

Needs python3 with scikit-learn, numpy, scipy, fasttext (PyPI `fasttext-wheel`) and jieba
(`pip install scikit-learn fasttext-wheel jieba`); no Rust build and no binary. Reads the
JSONL files `rumour_data.py prepare` wrote to DATA_DIR; writes only under DATA_DIR/candidates
(fastText's training files, results.json); prints only figures (counts, precision, recall, F1,
accuracy, AUC, thresholds, times), never a post. Single-threaded throughout (BLAS/OpenMP
threads pinned to 1, fastText thread=1): it can share a small machine.

Every candidate sees what the Rust model sees, on the same train/test files as
`bench/rumour_eval.sh` (within_ced, within_rumdect, within_both, CED -> Rumdect - overlap,
Rumdect -> CED - overlap):

- Text: `model_input` below replicates `rumour::text::model_input("", text)`: html_to_text only
  when the text holds '<' or '&' (html.parser here, html5ever in Rust; a few dozen of the
  ~7,900 posts hold one), NFKC except Chinese full-width punctuation, U+200B-U+200D/U+2060/U+FEFF/U+00AD removed,
  whitespace and control runs collapsed to one space and trimmed, then URLs, @mentions and
  ASCII digit runs as the placeholders U+E000/U+E001/U+E002 and ASCII letters lower-cased.
- Thresholds: as `rumour train` (src/rumour/train.rs `fit_rows`): the training rows whose
  FNV-1a-64 hash of the normalised text is 0 mod 5 are held out (the same hash and rule, so
  the same posts), a model trained on the other rows scores them, the flag is the lowest cut
  whose held-out precision reaches 0.99 (fallback, as in Rust: the F1-best cut), then the
  model is retrained on the whole training file and the cut applied to the test file.
  Hyper-parameters (C, fastText lr/epoch) are chosen on the same held-out fifth, by AUC.
- Candidates:
  rust-lr    replica of the shipped model (hashed char 1-3-grams in 2^20 FNV buckets, sublinear
             tf, unit length, min-df 3, AdaGrad 0.2, L2 1e-4, 10 epochs, SplitMix shuffle,
             float32): a sanity anchor for the replica of the text, split and thresholds (it
             reproduces EVALUATION.md's default rows to the printed digit). Its times are a
             Python loop over cached features and are not reported.
  rust-lr-idf  the replica with classic TF-IDF: sublinear tf of the min-df buckets times
             1 + ln((1+N)/(1+df)) (scikit-learn's smooth IDF), then unit length; the same
             AdaGrad. What `--weighting idf` would be with the IDF before the unit length.
  tfidf-lr   TfidfVectorizer(analyzer='char', ngram_range=(1,3), sublinear_tf=True, min_df=3,
             lowercase=False) + LogisticRegression(liblinear), C from {1, 4, 16}.
  tf-lr      tfidf-lr with use_idf=False (sublinear tf, unit length, no IDF): a diagnostic
             separating the IDF from the solver.
  tfidf-svm  same features + CalibratedClassifierCV(LinearSVC(loss='hinge'), method='sigmoid',
             cv=5), C from {0.25, 1, 4}.
  fasttext   fastText supervised over the text as space-separated characters (a space becomes
             U+2581) with wordNgrams=3, i.e. char 1-3-grams hashed into 2^20 buckets, no
             subwords; dim 50, softmax, minCount 1; epoch {10, 25} x lr {0.1, 0.3, 0.5}.
  tfidf-cw   char TF-IDF as tfidf-lr plus jieba (HMM off, as jieba-rs `cut(.., false)`) word
             1-2-gram TF-IDF (min_df 3, sublinear), each block unit length, the row scaled to
             unit length again; LogisticRegression C from {1, 4, 16}.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import html.parser  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import unicodedata  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

EXPERIMENTS = [
    ("within_ced", "ced_train80", "ced_test20"),
    ("within_rumdect", "rumdect_train80", "rumdect_test20"),
    ("within_both", "both_train80", "both_test20"),
    ("cross_ced_to_rumdect", "ced", "rumdect_minus_overlap"),
    ("cross_rumdect_to_ced", "rumdect", "ced_minus_overlap"),
]
CANDIDATES = ["rust-lr", "rust-lr-idf", "tfidf-lr", "tf-lr", "tfidf-svm", "fasttext", "tfidf-cw"]
LR_GRID, SVM_GRID = (1.0, 4.0, 16.0), (0.25, 1.0, 4.0)
PRECISION = 0.99

# ---------------------------------------------------------------- text (src/rumour/text.rs)

URL_MARK, MENTION_MARK, DIGITS_MARK = "\ue000", "\ue001", "\ue002"
URL = re.compile(r"(?:https?://|www\.|t\.cn/)[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]*|O?网页链接", re.I)
# Rust: @[\p{L}\p{N}_\-]{1,20}; Python's \w is letters, digits/numerics and '_' (checked
# equal on every character of both sets).
MENTION = re.compile(r"@[\w\-]{1,20}")
DIGITS = re.compile(r"[0-9]+")
ASCII_UPPER = str.maketrans({chr(c): chr(c + 32) for c in range(65, 91)})
INVISIBLE = set("\u200b\u200c\u200d\u2060\ufeff\u00ad")
# Rust char::is_whitespace (Unicode White_Space).
WHITE_SPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)
}
BLOCK = set(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 "
    "h6 header hr li main nav ol p pre section table td th tr ul".split()
)
SKIPPED = {"script", "style", "noscript", "template", "head", "title"}


def kept_punctuation(c):
    o = ord(c)
    return (
        0xFF01 <= o <= 0xFF0F
        or 0xFF1A <= o <= 0xFF20
        or 0xFF3B <= o <= 0xFF40
        or 0xFF5B <= o <= 0xFF65
        or o == 0x2026
    )


def fold_width(s):
    """NFKC except Chinese full-width punctuation (extract/normalize.rs `fold_width`)."""
    out, seg = [], []
    for c in s:
        if kept_punctuation(c):
            out.append(unicodedata.normalize("NFKC", "".join(seg)))
            out.append(c)
            seg = []
        else:
            seg.append(c)
    out.append(unicodedata.normalize("NFKC", "".join(seg)))
    return "".join(out)


def normalize_text(s):
    out, pending = [], False
    for c in fold_width(s):
        invisible = c in INVISIBLE
        if invisible or c in WHITE_SPACE or unicodedata.category(c) == "Cc":
            pending |= (not invisible) and bool(out)
            continue
        if pending:
            out.append(" ")
            pending = False
        out.append(c)
    return "".join(out)


class _Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED:
            self.skip += 1
        elif tag in BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag in BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in SKIPPED:
            self.skip = max(0, self.skip - 1)
        elif tag in BLOCK:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(s):
    if "<" not in s and "&" not in s:
        return normalize_text(s)
    p = _Text()
    p.feed(s)
    p.close()
    return normalize_text("".join(p.parts))


def model_input(text):
    """rumour::text::model_input("", text)."""
    s = html_to_text(text)
    s = URL.sub(URL_MARK, s)
    s = MENTION.sub(MENTION_MARK, s)
    s = DIGITS.sub(DIGITS_MARK, s)
    return s.translate(ASCII_UPPER)


FNV_OFFSET, FNV_PRIME, M64 = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def fnv1a(data, h=FNV_OFFSET):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & M64
    return h


def stable_hash(s):
    return fnv1a(s.encode("utf-8"))


# ---------------------------------------------------------------- data


def load(path):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            lab = d.get("label")
            if lab in (1, True, "1", "rumour", "rumor"):
                labels.append(1)
            elif lab in (0, False, "0", "non-rumour", "non-rumor"):
                labels.append(0)
            else:
                continue
            texts.append(model_input(d.get("text") or ""))
    return texts, np.array(labels, dtype=np.int8)


# ---------------------------------------------------------------- thresholds and figures


def cuts(scores, y):
    """(threshold, tp, precision, recall, f1) of "score >= threshold", highest first (train.rs)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    s, t = np.asarray(scores)[order], np.asarray(y)[order]
    pos = float(t.sum())
    out, tp, fp = [], 0.0, 0.0
    for i in range(len(s)):
        if t[i]:
            tp += 1
        else:
            fp += 1
        if i + 1 < len(s) and s[i + 1] == s[i]:
            continue
        p = tp / (tp + fp)
        r = tp / pos if pos else 0.0
        f1 = 2 * p * r / (p + r) if tp else 0.0
        out.append((float(s[i]), tp, p, r, f1))
    return out


def flag_threshold(scores, y, target=PRECISION):
    cs = cuts(scores, y)
    for s, tp, p, r, f1 in reversed(cs):
        if tp > 0 and p >= target:
            return s, "precision"
    best = (0.5, 0.0)
    for s, _, p, r, f1 in cs:
        if f1 > best[1]:
            best = (s, f1)
    return best[0], "f1"


def auc(scores, y):
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y).astype(bool)
    npos, nneg = int(y.sum()), int((~y).sum())
    if not npos or not nneg:
        return 0.5
    # Mann-Whitney with ties counted half: average ranks.
    from scipy.stats import rankdata

    ranks = rankdata(s)
    return float((ranks[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def r3(x):
    """As the project's tables: `rumour eval --json` rounds to 4 decimals, the table to 3."""
    return f"{math.floor(x * 10_000 + 0.5) / 10_000:.3f}"


def figures(scores, y, t):
    s = np.asarray(scores)
    y = np.asarray(y).astype(bool)
    flag = s >= t
    tp = int((flag & y).sum())
    fp = int((flag & ~y).sum())
    fn = int((~flag & y).sum())
    tn = int((~flag & ~y).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "n": len(y),
        "precision": p,
        "recall": r,
        "f1": f1,
        "accuracy": (tp + tn) / len(y),
        "auc": auc(s, y),
    }


# ---------------------------------------------------------------- candidates
# Each: make(params) -> fit(texts, y) -> score(texts) -> np.array of P(rumour).


class RustLR:
    """Replica of src/rumour/train.rs `sgd`/`fit_weighted` with the defaults."""

    BITS, MIN_DF, EPOCHS, L2, RATE, SEED = 20, 3, 10, np.float32(1e-4), np.float32(0.2), 20_240_601
    _bucket_cache = {}
    _row_cache = {}

    @classmethod
    def row(cls, text):
        hit = cls._row_cache.get(text)
        if hit is not None:
            return hit
        mask = (1 << cls.BITS) - 1
        counts = {}
        chars = list(text)
        for n in (1, 2, 3):
            for i in range(len(chars) - n + 1):
                gram = "".join(chars[i : i + n])
                if gram.strip(" ") == "":
                    continue
                b = cls._bucket_cache.get(gram)
                if b is None:
                    h = fnv1a(gram.encode("utf-8"), fnv1a(bytes([n])))
                    b = (h ^ (h >> 32)) & mask
                    cls._bucket_cache[gram] = b
                counts[b] = counts.get(b, 0) + 1
        idx = np.array(sorted(counts), dtype=np.int64)
        val = np.array([1.0 + math.log(counts[b]) for b in idx], dtype=np.float32)
        norm = np.float32(np.sqrt(np.sum(val * val, dtype=np.float32)))
        if norm > 0:
            val = (val * (np.float32(1.0) / norm)).astype(np.float32)
        cls._row_cache[text] = (idx, val)
        return idx, val

    def __init__(self, idf=False, **_):
        self.w, self.bias, self.idf = None, np.float32(0), idf

    def _idf_row(self, idx, val):
        """Classic TF-IDF: the usable buckets' sublinear tf times IDF, then unit length."""
        keep = self.usable[idx]
        idx, val = idx[keep], val[keep] * self.idf_of[idx[keep]]
        norm = np.float32(np.sqrt(np.sum(val * val, dtype=np.float32)))
        return idx, (val / norm if norm > 0 else val).astype(np.float32)

    def fit(self, texts, y):
        rows = [self.row(t) for t in texts]
        size = 1 << self.BITS
        df = np.zeros(size, dtype=np.int32)
        for idx, _ in rows:
            df[idx] += 1
        usable = df >= self.MIN_DF
        if self.idf:
            self.usable = usable
            self.idf_of = (1.0 + np.log((1.0 + len(rows)) / (1.0 + df))).astype(np.float32)
            rows = [self._idf_row(idx, val) for idx, val in rows]
        rows = [(idx[usable[idx]], val[usable[idx]]) for idx, val in rows]
        w = np.zeros(size, dtype=np.float32)
        g2 = np.zeros(size, dtype=np.float32)
        bias, bias_g2 = np.float32(0), np.float32(0)
        eps = np.float32(1e-6)
        one = np.float32(1)
        state = self.SEED
        order = list(range(len(rows)))
        ys = [np.float32(v) for v in y]
        for _ in range(self.EPOCHS):
            for i in range(len(order) - 1, 0, -1):  # SplitMix64 Fisher-Yates
                state = (state + 0x9E3779B97F4A7C15) & M64
                z = state
                z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
                z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
                z ^= z >> 31
                j = z % (i + 1)
                order[i], order[j] = order[j], order[i]
            for i in order:
                idx, val = rows[i]
                wi = w[idx]
                z = np.float32(bias + np.dot(wi, val))
                err = np.float32(one / (one + np.exp(-z))) - ys[i]
                g = err * val + self.L2 * wi
                gg = g2[idx] + g * g
                g2[idx] = gg
                w[idx] = wi - self.RATE * g / (np.sqrt(gg) + eps)
                bias_g2 = np.float32(bias_g2 + err * err)
                bias = np.float32(bias - self.RATE * err / (np.sqrt(bias_g2) + eps))
        self.w, self.bias = w, bias
        return self

    def score(self, texts):
        out = np.empty(len(texts), dtype=np.float32)
        for k, t in enumerate(texts):
            idx, val = self.row(t)
            if self.idf:
                idx, val = self._idf_row(idx, val)
            z = np.float32(self.bias + np.dot(self.w[idx], val))
            out[k] = np.float32(1) / (np.float32(1) + np.exp(-z))
        return out


def char_vectorizer(use_idf=True):
    from sklearn.feature_extraction.text import TfidfVectorizer

    # lowercase=False: model_input already lower-cased ASCII (sklearn would fold all scripts).
    return TfidfVectorizer(
        analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=3, lowercase=False, dtype=np.float32,
        use_idf=use_idf,
    )


_WORDS = {}


def words_of(text):
    hit = _WORDS.get(text)
    if hit is None:
        import jieba

        ws = [w for w in jieba.cut(text, HMM=False) if w.strip()]
        hit = ws + [ws[i] + "\u0001" + ws[i + 1] for i in range(len(ws) - 1)]
        _WORDS[text] = hit
    return hit


class TfidfModel:
    def __init__(self, kind, C):
        self.kind, self.C = kind, C

    def _features(self, texts, fit):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        if fit:
            self.vc = char_vectorizer(self.kind != "tf-lr")
            xc = self.vc.fit_transform(texts)
        else:
            xc = self.vc.transform(texts)
        if self.kind != "tfidf-cw":
            return xc
        docs = [words_of(t) for t in texts]
        if fit:
            self.vw = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True, min_df=3, dtype=np.float32)
            xw = self.vw.fit_transform(docs)
        else:
            xw = self.vw.transform(docs)
        return normalize(sp.hstack([xc, xw]).tocsr())

    def fit(self, texts, y):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        x = self._features(texts, True)
        if self.kind == "tfidf-svm":
            base = LinearSVC(C=self.C, loss="hinge", dual=True, max_iter=20000, random_state=0)
            self.clf = CalibratedClassifierCV(base, method="sigmoid", cv=5)
        else:
            self.clf = LogisticRegression(C=self.C, solver="liblinear", max_iter=1000, random_state=0)
        self.clf.fit(x, y)
        return self

    def score(self, texts):
        return self.clf.predict_proba(self._features(texts, False))[:, 1]


def ft_line(text):
    return " ".join("\u2581" if c == " " else c for c in text)


class FastText:
    counter = 0

    def __init__(self, lr, epoch, out_dir):
        self.lr, self.epoch, self.out_dir = lr, epoch, out_dir

    def fit(self, texts, y):
        import fasttext

        FastText.counter += 1
        path = os.path.join(self.out_dir, f"ft_train_{os.getpid()}_{FastText.counter}.txt")
        with open(path, "w", encoding="utf-8") as f:
            for t, lab in zip(texts, y):
                f.write(f"__label__{int(lab)} {ft_line(t)}\n")
        self.m = fasttext.train_supervised(
            path,
            dim=50,
            lr=self.lr,
            epoch=self.epoch,
            wordNgrams=3,
            minn=0,
            maxn=0,
            minCount=1,
            bucket=1 << 20,
            loss="softmax",
            thread=1,
            seed=1,
            verbose=0,
        )
        os.remove(path)
        return self

    def score(self, texts):
        out = np.empty(len(texts))
        for k, t in enumerate(texts):
            # model.predict breaks under numpy 2 (np.array(copy=False)): the C++ binding directly.
            probs = dict((lab, p) for p, lab in self.m.f.predict(ft_line(t) + "\n", -1, 0.0, "strict"))
            out[k] = probs.get("__label__1", 0.0)
        return out


def grid(name, out_dir):
    if name == "rust-lr":
        return [({}, lambda: RustLR())]
    if name == "rust-lr-idf":
        return [({}, lambda: RustLR(idf=True))]
    if name in ("tfidf-lr", "tf-lr", "tfidf-cw"):
        return [({"C": c}, (lambda c=c: TfidfModel(name, c))) for c in LR_GRID]
    if name == "tfidf-svm":
        return [({"C": c}, (lambda c=c: TfidfModel(name, c))) for c in SVM_GRID]
    if name == "fasttext":
        return [
            ({"epoch": e, "lr": lr}, (lambda e=e, lr=lr: FastText(lr, e, out_dir)))
            for e in (10, 25)
            for lr in (0.1, 0.3, 0.5)
        ]
    raise SystemExit(f"unknown candidate {name}")


def run(name, train, test, out_dir):
    texts, y = train
    held = np.array([stable_hash(t) % 5 == 0 for t in texts])
    fit_t = [t for t, h in zip(texts, held) if not h]
    held_t = [t for t, h in zip(texts, held) if h]
    t0 = time.perf_counter()
    best = None
    for params, make in grid(name, out_dir):
        m = make().fit(fit_t, y[~held])
        s = m.score(held_t)
        a = auc(s, y[held])
        if best is None or a > best[0] + 1e-12:
            best = (a, params, make, s)
        del m
    held_auc, params, make, held_scores = best
    threshold, rule = flag_threshold(held_scores, y[held])
    t1 = time.perf_counter()
    model = make().fit(texts, y)
    t2 = time.perf_counter()
    test_texts, test_y = test
    scores = model.score(test_texts)
    t3 = time.perf_counter()
    r = figures(scores, test_y, threshold)
    r.update(
        {
            "threshold": float(threshold),
            "threshold_rule": rule,
            "params": params,
            "held_out": int(held.sum()),
            "held_out_auc": held_auc,
            "train_s": t2 - t0,
            "final_fit_s": t2 - t1,
            "score_us_per_post": 1e6 * (t3 - t2) / max(1, len(test_texts)),
        }
    )
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir")
    ap.add_argument("--only", default=",".join(CANDIDATES))
    ap.add_argument("--experiments", default=",".join(e[0] for e in EXPERIMENTS))
    ap.add_argument("--c-grid", help="C values for tfidf-lr/tfidf-cw instead of 1,4,16 (a sensitivity check)")
    ap.add_argument("--svm-c-grid", help="C values for tfidf-svm instead of 0.25,1,4")
    a = ap.parse_args()
    global LR_GRID, SVM_GRID
    suffix = {}
    if a.c_grid:
        LR_GRID = tuple(float(v) for v in a.c_grid.split(","))
        suffix["tfidf-lr"] = suffix["tf-lr"] = suffix["tfidf-cw"] = f" (C from {a.c_grid})"
    if a.svm_c_grid:
        SVM_GRID = tuple(float(v) for v in a.svm_c_grid.split(","))
        suffix["tfidf-svm"] = f" (C from {a.svm_c_grid})"
    out_dir = os.path.join(a.data_dir, "candidates")
    os.makedirs(out_dir, exist_ok=True)
    import jieba
    import sklearn

    jieba.setLogLevel(60)
    wanted = a.experiments.split(",")
    cands = a.only.split(",")
    results_path = os.path.join(out_dir, "results.json")
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}
    cache = {}

    def data(name):
        if name not in cache:
            cache[name] = load(os.path.join(a.data_dir, name + ".jsonl"))
        return cache[name]

    for exp, train_name, test_name in EXPERIMENTS:
        if exp not in wanted:
            continue
        train, test = data(train_name), data(test_name)
        for c in cands:
            r = run(c, train, test, out_dir)
            results.setdefault(c + suffix.get(c, ""), {})[exp] = r
            print(
                f"{exp:22s} {c:10s} n={r['n']:5d} t={r['threshold']:.3f} ({r['threshold_rule']}) "
                f"P={r['precision']:.3f} R={r['recall']:.3f} F1={r['f1']:.3f} acc={r['accuracy']:.3f} "
                f"AUC={r['auc']:.3f} params={r['params']} train={r['train_s']:.1f}s "
                f"final={r['final_fit_s']:.1f}s score={r['score_us_per_post']:.0f}us/post",
                file=sys.stderr,
                flush=True,
            )
            with open(results_path, "w") as f:
                json.dump(results, f, indent=1)
    import fasttext  # noqa: F401  (version below)
    from importlib.metadata import version

    print(
        f"python {sys.version.split()[0]}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"fasttext-wheel {version('fasttext-wheel')}, jieba {jieba.__version__}"
    )
    print()
    print("| candidate | CED → Rumdect − overlap flag P / R / F1 · AUC | Rumdect → CED − overlap flag P / R / F1 · AUC "
          "| within both flag F1 · AUC | within CED / Rumdect F1 · AUC | training (Rumdect, 4.5 k posts) wall "
          "| scoring µs/post |")
    print("|---|---|---|---|---|---|---|")
    keys = sorted(results, key=lambda k: (CANDIDATES.index(k.split(" ")[0]), k))
    for c in keys:
        rs = results.get(c, {})

        def cell(e, full=True):
            r = rs.get(e)
            if not r:
                return "—"
            if full:
                return f"{r3(r['precision'])} / {r3(r['recall'])} / {r3(r['f1'])} · {r3(r['auc'])} (t={r['threshold']:.2f})"
            return f"{r3(r['f1'])} · {r3(r['auc'])}"

        rt = rs.get("cross_rumdect_to_ced")
        cost = f"{rt['train_s']:.1f} s (final fit {rt['final_fit_s']:.1f} s)" if rt else "—"
        us = f"{rt['score_us_per_post']:.0f}" if rt else "—"
        if c.startswith("rust-lr"):  # a pure-Python loop over cached features: its times mean nothing
            cost, us = "n/a (replica)", "n/a"
        print(
            f"| {c} | {cell('cross_ced_to_rumdect')} | {cell('cross_rumdect_to_ced')} | "
            f"{cell('within_both', False)} | {cell('within_ced', False)} / {cell('within_rumdect', False)} | {cost} | {us} |"
        )
    print()
    print("chosen on the held-out fifth:")
    for c in keys:
        for e, r in results.get(c, {}).items():
            print(f"  {c} {e}: {r['params']} held-out AUC {r['held_out_auc']:.3f} ({r['held_out']} posts), flag rule {r['threshold_rule']}")


if __name__ == "__main__":
    main()
