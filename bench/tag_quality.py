"""Topic-tag quality on the labelled test split and on the corpora, newsflow beside the
rules alone (the tagger before the trained model) and bare keywords.

    python bench/tag_quality.py                 (also run by bench/quality.py)
    python bench/tag_quality.py --misses        (list the test items newsflow gets wrong)
    python bench/tag_quality.py --model OLD.json.gz   (score another model file, e.g. a previous
                                                       one, on the same split)

The test split is only ever read here, to report; ``bench/train_tagger.py`` never sees it
(its own cross-validated figures on train+dev are what the method is tuned on).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import tagset  # noqa: E402

from bench.corpora import corpus  # noqa: E402
from pipeline.enrichment.tagging import Tagger, load_tagger  # noqa: E402
from pipeline.enrichment.tagging._model import LinearModel  # noqa: E402
from pipeline.enrichment.tagging._rules import load_rules  # noqa: E402

# What a newsroom search box would use: any of these words makes an article "about migration".
_KEYWORDS = re.compile(
    r"\b(migra\w*|immigra\w*|emigra\w*|refugee\w*|asylum|deport\w*|refugiad\w*|asilo|"
    r"deportad\w*|inmigra\w*|desplazad\w*|displaced)\b",
    re.IGNORECASE,
)
System = Callable[[dict], tuple[bool, set[str]]]
Counts = list[int]  # tp, fp, fn


def _systems(model_file: Path | None) -> dict[str, System]:
    rules = load_tagger(model=False)
    model = (Tagger(load_rules(None), LinearModel.load(model_file)) if model_file
             else load_tagger())  # fmt: skip

    def run(tagger) -> System:  # type: ignore[no-untyped-def]
        def f(r: dict) -> tuple[bool, set[str]]:
            res = tagger.tag(title=r.get("title"), body=r["text"], language=r["language"],
                             entities=r["entities"])  # fmt: skip
            return res.migration_related, {t.id for t in res.topics}

        return f

    def keywords(r: dict) -> tuple[bool, set[str]]:
        return bool(_KEYWORDS.search(f"{r.get('title') or ''} {r['text']}")), set()

    return {"newsflow": run(model), "rules only": run(rules), "bare keywords": keywords}


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def _prf(c: Counts) -> tuple[float, float, float]:
    tp, fp, fn = c
    return (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0, _f1(*c))


def _sizes() -> None:
    rows = tagset.load_labels()
    spanish = [r for r in rows if r["language"] == "es"]
    print(f"labelled set: {len(rows)} items ({sum(r['migration_related'] for r in rows)} "
          f"migration-related, {sum(r['hard_negative'] for r in rows)} hard negatives, "
          f"{len(spanish)} Spanish, {sum('corpus' in r for r in rows)} corpus articles); "
          + ", ".join(f"{s} {sum(r['split'] == s for r in rows)}" for s in tagset.SPLITS))


def _score(rows: list[dict], preds: list[tuple[bool, set[str]]], tags: list[str]
           ) -> tuple[Counts, dict[str, Counts], list[bool]]:  # fmt: skip
    mig = [0, 0, 0]
    per_tag = {t: [0, 0, 0] for t in tags}
    hard = []
    for r, (related, got) in zip(rows, preds, strict=True):
        gold = r["migration_related"]
        mig[0] += gold and related
        mig[1] += related and not gold
        mig[2] += gold and not related
        if r["hard_negative"]:
            hard.append(related)
        want = set(r["tags"])
        for t in tags:
            c = per_tag[t]
            c[0] += t in got and t in want
            c[1] += t in got and t not in want
            c[2] += t in want and t not in got
    return mig, per_tag, hard


def _labelled(systems: dict[str, System], tags: list[str], split: str, misses: bool) -> None:
    rows = tagset.load((split,))
    tagset.with_entities(rows)
    by_lang = {"all": rows, **{lg: [r for r in rows if r["language"] == lg] for lg in ("en", "es")}}
    print(f"labelled {split} split: {len(rows)} items "
          f"(en {len(by_lang['en'])}, es {len(by_lang['es'])}; "
          f"{sum(r['migration_related'] for r in rows)} migration-related, "
          f"{sum(r['hard_negative'] for r in rows)} hard negatives)")  # fmt: skip
    tables: dict[str, dict[str, dict[str, Counts]]] = {}
    for name, system in systems.items():
        preds = {id(r): system(r) for r in rows}
        print(f"  {name}")
        for lang, sub in by_lang.items():
            mig, per_tag, hard = _score(sub, [preds[id(r)] for r in sub], tags)
            tables.setdefault(name, {})[lang] = per_tag
            f1s = [_f1(*c) for c in per_tag.values() if c[0] + c[2]]
            micro = [sum(c[i] for c in per_tag.values()) for i in range(3)]
            n_tags = [len(preds[id(r)][1]) for r in sub if preds[id(r)][0]]
            tagged = name != "bare keywords"
            print(f"    {lang:3s} migration-related F1 {_f1(*mig):.3f}   hard negatives tagged "
                  f"{sum(hard)}/{len(hard)} = {sum(hard) / max(len(hard), 1):.3f}"
                  + (f"   tag macro-F1 {statistics.mean(f1s):.3f} (min {min(f1s):.2f})"
                     f"   micro P {_prf(micro)[0]:.3f} R {_prf(micro)[1]:.3f} F1 {_f1(*micro):.3f}"
                     f"   tags per tagged item {statistics.mean(n_tags or [0]):.2f}"
                     if tagged else ""))  # fmt: skip
        if misses and name == "newsflow":
            _misses(rows, preds)
    print(f"  per tag on the {split} split: support en/es, newsflow P R F1 (all), "
          "F1 en | es, rules only F1 (all)")
    for t in tags:
        sup = [sum(t in r["tags"] for r in by_lang[lg]) for lg in ("en", "es")]
        p, r, f = _prf(tables["newsflow"]["all"][t])
        by = " | ".join(f"{_f1(*tables['newsflow'][lg][t]):.2f}" if sum(tables["newsflow"][lg][t])
                        else " —  " for lg in ("en", "es"))  # fmt: skip
        print(f"    {t:36s} {sup[0]:3d}/{sup[1]:<3d}  P {p:.2f} R {r:.2f} F1 {f:.2f}   {by}"
              f"   rules {_f1(*tables['rules only']['all'][t]):.2f}")  # fmt: skip


def _misses(rows: list[dict], preds: dict[int, tuple[bool, set[str]]]) -> None:
    for r in rows:
        related, got = preds[id(r)]
        want = set(r["tags"])
        if related != r["migration_related"] or got != want:
            head = (r.get("title") or r["text"][:80]).replace("\n", " ")[:80]
            print(f"      MISS {r['id']:18s} gold {r['migration_related']!s:5s} "
                  f"{sorted(want)} got {related!s:5s} {sorted(got)} :: {head}")  # fmt: skip


def _corpora(systems: dict[str, System]) -> None:
    read = tagset.read_jsonl
    guardian = [dict(d, text=d["body"], language="en")
                for d in read(corpus("guardian-migration.jsonl"))]  # fmt: skip
    bbc = [dict(d, text=d["body"], language="en") for d in read(corpus("bbc-2005.jsonl"))
           if d["category"] != "politics"]  # fmt: skip
    tagset.with_entities(guardian + bbc)
    print(f"corpora: guardian-migration n={len(guardian)} (target >= 0.98 tagged), "
          f"bbc-2005 outside politics n={len(bbc)} (target <= 0.005)")  # fmt: skip
    for name, system in systems.items():
        started = time.process_time()
        g = [system(d) for d in guardian]
        b = [system(d) for d in bbc]
        spent = (time.process_time() - started) / (len(g) + len(b)) * 1000
        tagged = [len(p[1]) for p in g if p[0]]
        avg = f"{statistics.mean(tagged):.2f}" if tagged and name != "bare keywords" else "—"
        print(f"  {name:13s} guardian tagged {sum(p[0] for p in g) / len(g):.4f} "
              f"(tags per article {avg})   bbc non-politics tagged "
              f"{sum(p[0] for p in b) / len(b):.4f}   {spent:.2f} ms/article")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=tagset.SPLITS, default="test",
                    help="labelled split to score (default test; train and dev are what the "
                         "model was fitted on, so their figures are optimistic)")  # fmt: skip
    ap.add_argument("--misses", action="store_true", help="list the items newsflow gets wrong")
    ap.add_argument("--no-corpora", action="store_true", help="skip the Guardian/BBC figures")
    ap.add_argument("--model", type=Path, metavar="FILE",
                    help="score this model file (model.json.gz) instead of the packaged one")
    args = ap.parse_args()
    systems = _systems(args.model)
    tags = list(load_tagger(model=False).taxonomy)
    _sizes()
    _labelled(systems, tags, args.split, args.misses)
    if not args.no_corpora:
        _corpora(systems)


if __name__ == "__main__":
    main()
