"""The keyword facets analysts would see over real corpus articles, English and Spanish.

    python bench/entity_facets.py [N] [--corpus en|es|both|demo] [--top K] [--spans FILE]

Runs the articles through the enrich stage itself (``Enricher.enrich``: cleaning, language
detection, NER over title and body, ``refine_entities``, ``keyword_fields``), so the values
are the ones the index stage writes to ``persons``, ``orgs``, ``places``, ``nationalities``
and ``groups``, and prints the top K (default 20) of each with the number of articles
carrying them, as an Elasticsearch terms facet counts them.  What to look for: one value per
country or organisation, no organisation among the persons, no party among the
nationalities.

English (``--corpus en``): every third article of ``us-immigration-2020`` and every second
of ``guardian-migration``, in that order, up to N (default 1,000).  Spanish (``es``): the
EFE newswire items of the CoNLL-2002 Spanish test set (the only Spanish news text in the
shared corpora; about 190 items from May 2000), rebuilt from its tokens and cut at its
datelines ("Madrid , 23 may ( EFE ) .").  ``demo``: the articles ``make demo`` publishes
(``deploy/demo/samples`` and ``../shared/samples/chile-bolivia-border.txt``), read as
``newsflow publish`` reads them, without starting a stack or a worker.

NER is the slow part, so ``--spans FILE`` keeps the model's raw spans in a JSON file, by
model and text hash, and reuses them: rules can then be changed and re-read in seconds.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.corpora import CORPORA, corpus
from bench.ner_cache import CachedNer
from pipeline.core.settings import get_settings
from pipeline.enrichment.enrich import Enricher
from pipeline.ingest.inputs import Parsed, read_sources
from schemas import EnrichedArticle, RawArticle

_PICKS = (("us-immigration-2020.jsonl", 3), ("guardian-migration.jsonl", 2))
_CONLL_ES = "ner/conll2002-es-testb.txt"
FIELDS = ("persons", "orgs", "places", "nationalities", "groups", "agencies")
# "Madrid, 23 may (EFE).", "Miami (EEUU), 23 may (EFECOM).": an item's first line.
_DATELINE = re.compile(r"\(EFE(?:COM)?\)\.?$")
_NO_SPACE_BEFORE = re.compile(r" ([,.;:!?)\]])")
_NO_SPACE_AFTER = re.compile(r"([(\[¿¡]) ")


def english_articles(n: int) -> list[RawArticle]:
    """The first ``n`` picked articles of the English corpora."""
    out: list[RawArticle] = []
    for name, step in _PICKS:
        with corpus(name).open(encoding="utf-8") as f:
            for i, line in enumerate(f):
                if len(out) >= n:
                    return out
                if i % step == 0:
                    row = json.loads(line)
                    out.append(RawArticle(id=row["id"], title=row.get("title"), body=row["body"]))
    return out


def spanish_articles(n: int) -> list[RawArticle]:
    """EFE items of CoNLL-2002 test B: tokens joined back into sentences (one paragraph
    each), a new item at each dateline."""
    items: list[list[str]] = []
    tokens: list[str] = []
    for line in [*corpus(_CONLL_ES).read_text(encoding="utf-8").splitlines(), ""]:
        if line.strip():
            tokens.append(line.split()[0])
            continue
        if not tokens:
            continue
        sentence = _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", " ".join(tokens)))
        tokens = []
        if _DATELINE.search(sentence) or not items:
            items.append([])
        items[-1].append(sentence)
    return [
        RawArticle(id=f"conll2002-es-{i}", body="\n\n".join(sentences))
        for i, sentences in enumerate(items[:n])
        if len(sentences) > 1
    ]


def demo_articles() -> list[RawArticle]:
    """What ``make demo`` publishes (``deploy/demo/demo.py``)."""
    root = Path(__file__).resolve().parents[1]
    sources = [root / "deploy" / "demo" / "samples"]
    shared = CORPORA.parent / "samples" / "chile-bolivia-border.txt"  # beside the corpora
    sources += [shared] if shared.exists() else []
    return [item.article for item in read_sources(sources) if isinstance(item, Parsed)]


def facets(articles: Sequence[EnrichedArticle]) -> dict[str, Counter[str]]:
    """Articles per value of each keyword field, as a terms facet counts them."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in FIELDS}
    for article in articles:
        for name in FIELDS:
            counts[name].update(set(getattr(article, name)))
    return counts


def enrich_all(enricher: Enricher, raws: list[RawArticle]) -> list[EnrichedArticle]:
    out: list[EnrichedArticle] = []
    for i in range(0, len(raws), 32):
        out.extend(a for a in enricher.enrich(raws[i : i + 32]) if isinstance(a, EnrichedArticle))
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=1000, help="articles per corpus (1000)")
    parser.add_argument("--corpus", choices=("en", "es", "both", "demo"), default="both",
                        help="English corpora, the Spanish EFE items, both (default), "
                             "or the demo's samples")
    parser.add_argument("--top", type=int, default=20, help="values per field (20)")
    parser.add_argument("--spans", type=Path, help="JSON file keeping the model's spans")
    args = parser.parse_args(argv)
    settings = get_settings()
    models = {"en": settings.enrich.model_en, "es": settings.enrich.model_es}
    ner = CachedNer(models, args.spans)
    enricher = Enricher(model_en=models["en"], model_es=models["es"], ner=ner)
    sets = []
    if args.corpus in ("en", "both"):
        sets.append(("us-immigration-2020 and guardian-migration", english_articles(args.n)))
    if args.corpus in ("es", "both"):
        sets.append(("EFE items of CoNLL-2002 Spanish test B", spanish_articles(args.n)))
    if args.corpus == "demo":
        sets.append(("the demo's samples", demo_articles()))
    for name, raws in sets:
        enriched = enrich_all(enricher, raws)
        ner.save()
        languages = Counter(a.language for a in enriched)
        counts = facets(enriched)
        print(f"{len(enriched)} articles ({name}; languages "
              f"{', '.join(f'{k} {v}' for k, v in languages.most_common())}), top {args.top}:")
        for field in FIELDS:
            values = " · ".join(f"{v} {c}" for v, c in counts[field].most_common(args.top))
            print(f"\n{field}: {values}")
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
