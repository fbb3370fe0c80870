"""Build the tagger's trained model from the labelled set: ``python bench/train_tagger.py``.

Reads the train and dev splits of ``bench/data/quality/tags_*.jsonl`` (corpus texts from
the shared corpora), fits one logistic regression for ``migration_related`` (all items)
and one per topic tag (migration-related items only) over sublinear tf-idf n-grams plus
the rule cues, and writes ``pipeline/enrichment/data/tagging/model.json.gz``.  The test
split is never read.  Deterministic: the same data gives the same file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import scipy.sparse as sparse  # noqa: E402
import tagset  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from pipeline.enrichment.tagging import load_tagger  # noqa: E402
from pipeline.enrichment.tagging._model import BUILTIN_MODEL, MIGRATION, MODEL_FORMAT  # noqa: E402

MIN_DF = 3
MAX_VOCAB = 10_000
C_MIGRATION = float(os.environ.get("TAGGER_C_MIGRATION", "3.0"))
C_TAG = float(os.environ.get("TAGGER_C_TAG", "1.0"))
FOLDS = 5  # per-output thresholds: the F1-best cut of out-of-fold probabilities on train+dev


def _matrix(bags: list[Counter[str]], vocab: dict[str, int], idf: np.ndarray) -> sparse.csr_matrix:
    data, rows, cols = [], [], []
    for r, bag in enumerate(bags):
        known = [(vocab[g], 1.0 + math.log(c)) for g, c in bag.items() if g in vocab]
        if not known:
            continue
        idx = np.array([i for i, _ in known])
        values = np.array([v for _, v in known]) * idf[idx]
        values /= np.linalg.norm(values) or 1.0
        rows.extend([r] * len(idx))
        cols.extend(idx.tolist())
        data.extend(values.tolist())
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(bags), len(vocab)))


def _fit(x: sparse.csr_matrix, labels: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Output 0 (migration_related) learns from every item, a tag from related items only."""
    rows = np.arange(len(labels)) if k == 0 else np.flatnonzero(labels[:, 0])
    fit = LogisticRegression(C=C_MIGRATION if k == 0 else C_TAG, class_weight="balanced",
                             solver="liblinear", random_state=0)  # fmt: skip
    fit.fit(x[rows], labels[rows, k])
    return fit.coef_[0], float(fit.intercept_[0])


def _best_cut(gold: np.ndarray, prob: np.ndarray) -> float:
    best, cut = -1.0, 0.5
    for c in np.arange(0.2, 0.81, 0.05):
        pred = prob >= c
        tp = int((gold & pred).sum())
        f1 = 2 * tp / (gold.sum() + pred.sum()) if gold.sum() + pred.sum() else 0.0
        if f1 > best + 1e-9:
            best, cut = f1, round(float(c), 2)
    return cut


def _report_cv(labels: np.ndarray, oof: np.ndarray, thresholds: dict[str, float],
               outputs: list[str], rows: list[dict]) -> None:
    """Out-of-fold figures on train+dev (optimistic: the cuts were chosen on them)."""
    related = oof[:, 0] >= thresholds[MIGRATION]
    gold = labels[:, 0].astype(bool)
    hard = np.array([r["hard_negative"] for r in rows])
    f1s = []
    for k in range(1, len(outputs)):
        pred = (oof[:, k] >= thresholds[outputs[k]]) & related
        want = labels[:, k].astype(bool)
        f1s.append(2 * (pred & want).sum() / max(pred.sum() + want.sum(), 1))
    f1 = 2 * (related & gold).sum() / (related.sum() + gold.sum())
    print(f"cross-validated on train+dev: migration-related F1 {f1:.3f}, hard negatives tagged "
          f"{related[hard].mean():.3f}, tag macro-F1 {np.mean(f1s):.3f}")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=BUILTIN_MODEL)
    args = ap.parse_args()

    rows = tagset.load(("train", "dev"))
    tagger = load_tagger(model=False)
    tags = list(tagger.taxonomy)
    bags, cues = [], []
    for r in rows:
        bag, cue = tagger.model_inputs(title=r.get("title"), body=r["text"],
                                       language=r["language"], entities=[])  # fmt: skip
        bags.append(bag)
        cues.append(cue)
    df = Counter(g for bag in bags for g in bag)
    kept = sorted((g for g, c in df.items() if c >= MIN_DF), key=lambda g: (-df[g], g))[:MAX_VOCAB]
    names = sorted(kept)
    vocab = {g: i for i, g in enumerate(names)}
    n = len(bags)
    idf = np.array([math.log((1 + n) / (1 + df[g])) + 1.0 for g in names])
    x = sparse.hstack([_matrix(bags, vocab, idf), sparse.csr_matrix(np.array(cues))]).tocsr()
    y = np.array([r["migration_related"] for r in rows])

    outputs = [MIGRATION, *tags]
    labels = np.array([[r["migration_related"], *(t in r["tags"] for t in tags)] for r in rows])
    coef, bias = [], []
    for k in range(len(outputs)):
        w, b = _fit(x, labels, k)
        coef.append(w)
        bias.append(b)
    # Out-of-fold probabilities for the thresholds; tags are judged on gold-related items.
    oof = np.zeros(labels.shape)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    for train, held in folds.split(x, labels[:, 0]):
        for k in range(len(outputs)):
            w, b = _fit(x[train], labels[train], k)
            oof[held, k] = 1.0 / (1.0 + np.exp(-(x[held] @ w + b)))
    thresholds = {}
    for k, output in enumerate(outputs):
        keep = np.ones(len(rows), bool) if k == 0 else labels[:, 0].astype(bool)
        thresholds[output] = _best_cut(labels[keep, k].astype(bool), oof[keep, k])
    print("thresholds:", {o: thresholds[o] for o in outputs})
    _report_cv(labels, oof, thresholds, outputs, rows)

    model = {
        "format": MODEL_FORMAT,
        "trained_on": {"items": n, "migration_related": int(y.sum()),
                       "languages": dict(Counter(r["language"] for r in rows))},  # fmt: skip
        "outputs": [MIGRATION, *tags],
        "cue_tags": tags,
        "cue_scale": 1.0,
        "thresholds": thresholds,
        "vocab": names,
        "idf": [round(float(v), 4) for v in idf],
        "intercept": [round(b, 4) for b in bias],
        "coef": [[round(float(v), 3) for v in row] for row in coef],
        "cv_thresholds_from": f"{FOLDS}-fold out-of-fold probabilities on train+dev",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(args.out, "wb", mtime=0) as f:
        f.write(json.dumps(model, separators=(",", ":")).encode())
    print(f"{args.out}: {n} items, {len(names)} n-grams, {args.out.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
