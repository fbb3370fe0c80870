"""The labelled topic-tag set: corpus articles by id (texts read from the shared corpora at
run time, never stored here) and items written for the project (texts stored), one split rule.

Rows carry ``id, language, migration_related, tags, hard_negative, split`` and, once
loaded, ``title`` and ``text``.  See ``bench/data/quality/README.md`` for the labelling guide.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from bench.corpora import corpus
from bench.ner_cache import CachedNer
from pipeline.core.settings import get_settings
from pipeline.enrichment.enrich import Enricher, tagger_entities
from schemas import EnrichedArticle, RawArticle

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "quality"
CORPUS_FILES = {
    "guardian-migration": "guardian-migration.jsonl",
    "us-immigration-2020": "us-immigration-2020.jsonl",
    "bbc-2005": "bbc-2005.jsonl",
}
SPLITS = ("train", "dev", "test")
# A corpus article that is not about migration is a hard negative when it uses the field's
# vocabulary: a word starting with one of these, or one of the whole words below.
HARD_NEGATIVE_STEMS = ("migra", "immigra", "emigra", "refugee", "asylum", "deport", "border",
                       "exodus", "transfer", "visa", "smuggl", "traffick", "expat", "touris",
                       "displac", "detain")  # fmt: skip
HARD_NEGATIVE_WORDS = frozenset({"fled", "camp", "camps"})
_WORD = re.compile(r"\w+")


def split_of(item_id: str) -> str:
    """The one split rule shared by every labelled set of the project (tags and entities)."""
    bucket = int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % 10
    return "test" if bucket < 3 else ("dev" if bucket < 5 else "train")


def hard_negative(row: dict) -> bool:
    """The flag a row must carry, by the set's mechanical rule: never for a migration-related
    item; for a corpus article, whether its title or body uses a migration word (case
    folded); for a written item, always, every written negative being a look-alike made on
    purpose.  A rule rather than a judgement, so that labellers cannot disagree on it."""
    if row["migration_related"]:
        return False
    if "corpus" not in row:
        return True
    words = _WORD.findall(f"{row.get('title') or ''}\n{row['text']}".lower())
    return any(w.startswith(HARD_NEGATIVE_STEMS) or w in HARD_NEGATIVE_WORDS for w in words)


def _check_hard_negative(row: dict) -> None:
    if row["hard_negative"] != hard_negative(row):
        flag = row["hard_negative"]
        raise ValueError(f"{row['id']}: hard_negative {flag} disagrees with the rule "
                         f"(bench/tagset.py: hard_negative); set it to {not flag}")


def read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def corpus_texts(names: Iterable[str]) -> dict[str, tuple[str | None, str]]:
    """id -> (title, body); the BBC files carry the title as the start of the body."""
    out: dict[str, tuple[str | None, str]] = {}
    for name in names:
        for d in read_jsonl(corpus(CORPUS_FILES[name])):
            out[d["id"]] = (d.get("title"), d["body"])
    return out


def load_labels() -> list[dict]:
    """Every labelled row, without corpus texts; checks the split rule, duplicate ids and
    the hard-negative flag of the rows whose text is stored (``load`` checks the rest)."""
    rows = [r for p in sorted(DATA.glob("tags_*.jsonl")) for r in read_jsonl(p)]
    seen: set[str] = set()
    for r in rows:
        if r["split"] != split_of(r["id"]):
            raise ValueError(f"{r['id']}: split {r['split']!r} disagrees with the split rule")
        if r["id"] in seen:
            raise ValueError(f"{r['id']}: labelled twice")
        seen.add(r["id"])
        if "corpus" not in r:
            _check_hard_negative(r)
    return rows


def load(splits: Iterable[str] = SPLITS) -> list[dict]:
    """Labelled rows of the given splits, with their texts."""
    wanted = set(splits)
    rows = [r for r in load_labels() if r["split"] in wanted]
    needed = {r["corpus"] for r in rows if "corpus" in r}
    texts = corpus_texts(needed)
    for r in rows:
        if "corpus" in r:
            r["title"], r["text"] = texts[r["id"]]
            _check_hard_negative(r)
    return rows


def with_entities(rows: list[dict], spans: Path | None = None) -> None:
    """Give every row what the tagger reads in a worker: title and body as the enrich stage
    cleans them, and the entities it found (``rows[i]["entities"]``).  Without them the
    model would be fitted and scored on fewer cues than it meets in production: places and
    nationalities NER finds count as an "origin" context for the rules.  NER is the slow
    part, so its spans are kept in ``spans`` (default ``<NEWSFLOW_HOME>/bench/tag-spans.json``)
    and only texts it does not hold yet are read by the models."""
    settings = get_settings()
    spans = spans or settings.home / "bench" / "tag-spans.json"
    spans.parent.mkdir(parents=True, exist_ok=True)
    models = {"en": settings.enrich.model_en, "es": settings.enrich.model_es}
    ner = CachedNer(models, spans)
    enricher = Enricher(model_en=models["en"], model_es=models["es"], ner=ner,
                        prefer_publisher_language=True)  # fmt: skip
    step = 64
    for i in range(0, len(rows), step):
        batch = rows[i : i + step]
        raws = [RawArticle(title=r.get("title"), body=r["text"], language=r["language"])
                for r in batch]  # fmt: skip
        for r, out in zip(batch, enricher.enrich(raws), strict=True):
            if not isinstance(out, EnrichedArticle):
                raise ValueError(f"{r['id']}: the enrich stage refused it: {out}")
            r["title"], r["text"] = out.title, out.body
            r["entities"] = tagger_entities(out.entities)
    ner.save()
