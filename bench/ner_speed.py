"""How fast the enrich stage is, and where its time goes.

    .venv/bin/python bench/ner_speed.py [N] [--no-baseline]

Reads the first N (default 200) articles of the shared corpus at run time and prints,
measured in this run as CPU time of this process: the full spaCy pipeline (baseline), the
NER-only pipeline, cleaning, language detection and ``Enricher.enrich`` end to end, as
articles/s and as ratios, and NER's share of ``Enricher.enrich`` timed inside it.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable

import spacy

from bench.corpora import corpus
from pipeline.core.settings import Settings
from pipeline.enrichment.enrich import Enricher, clean_text
from pipeline.enrichment.language import detect_language
from pipeline.enrichment.nlp import Ner
from schemas import RawArticle

CORPUS = corpus("us-immigration-2020.jsonl")


def _load(n: int) -> list[RawArticle]:
    raws = []
    with CORPUS.open(encoding="utf-8") as f:
        for line, _ in zip(f, range(n), strict=False):
            raws.append(RawArticle.model_validate_json(line))
    return raws


def _timed(fn: Callable[[], object]) -> float:
    """CPU seconds of this process: other jobs on a shared machine barely move it."""
    started = time.process_time()
    fn()
    return time.process_time() - started


def main(argv: list[str]) -> None:
    n = int(next((a for a in argv if a.isdigit()), "200"))
    settings = Settings()
    raws = _load(n)
    chars = sum(len(r.body) for r in raws)
    print(f"{len(raws)} articles, {chars / len(raws):,.0f} chars on average")

    enricher = Enricher.from_settings(settings)
    ner = Ner({"en": settings.enrich.model_en}, batch_size=settings.enrich.batch_size)
    # Warm up: spaCy buffers, and lingua's lazily loaded models (a short text loads the
    # high-accuracy ones, a few seconds once per process).
    enricher.enrich(raws[:8])
    detect_language("Warm up.")
    bodies = [clean_text(r.body) for r in raws]

    # NER's share is measured inside the same Enricher.enrich calls, not in a separate run.
    ner_in_enrich = 0.0
    extract = enricher._ner.extract

    def timed_extract(texts: list[str], language: str) -> list:
        nonlocal ner_in_enrich
        started = time.process_time()
        try:
            return extract(texts, language)
        finally:
            ner_in_enrich += time.process_time() - started

    def enrich_all() -> None:
        for i in range(0, len(raws), settings.enrich.batch_size):
            enricher.enrich(raws[i : i + settings.enrich.batch_size])

    rows: dict[str, float] = {}
    if "--no-baseline" not in argv:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = spacy.load(settings.enrich.model_en)
        rows["full spaCy pipeline (baseline)"] = _timed(
            lambda: list(full.pipe(bodies, batch_size=settings.enrich.batch_size))
        )
    rows["NER-only pipeline"] = _timed(lambda: ner.extract(bodies, "en"))
    rows["clean_text"] = _timed(lambda: [clean_text(r.body) for r in raws])
    rows["detect_language"] = _timed(lambda: [detect_language(b) for b in bodies])
    enricher._ner.extract = timed_extract  # type: ignore[method-assign]
    wall = time.perf_counter()
    rows["Enricher.enrich (all steps)"] = _timed(enrich_all)
    wall = time.perf_counter() - wall

    base = rows.get("full spaCy pipeline (baseline)")
    for name, seconds in rows.items():
        ratio = f"  {base / seconds:5.2f}x baseline" if base else ""
        print(f"{name:<32} {seconds:7.2f} CPU s  {len(raws) / seconds:7.1f} articles/s{ratio}")
    total = rows["Enricher.enrich (all steps)"]
    share = ner_in_enrich / total
    print(f"NER share of Enricher.enrich: {share:.0%}; everything else {1 - share:.0%}")
    print(f"Enricher.enrich wall clock: {wall:.1f}s, {len(raws) / wall:.1f} articles/s")


if __name__ == "__main__":
    main(sys.argv[1:])
