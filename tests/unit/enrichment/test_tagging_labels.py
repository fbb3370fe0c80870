"""The labelled topic-tag set (``bench/data/quality/tags_*.jsonl``) keeps its own rules, so
that rows appended by later labelling passes cannot leak across splits or carry labels the
tagger cannot produce."""

from __future__ import annotations

from pathlib import Path

from bench.tagset import (
    CORPUS_FILES,
    DATA,
    hard_negative,
    load_labels,
    read_jsonl,
    split_of,
    with_entities,
)
from pipeline.core.settings import get_settings
from pipeline.enrichment.enrich import Enricher
from pipeline.enrichment.tagging import load_tagger
from schemas import EnrichedArticle, RawArticle

_FIELDS = {"id", "language", "migration_related", "tags", "hard_negative", "split"}


def test_every_row_obeys_the_split_rule_once() -> None:
    rows = load_labels()  # raises on a split that disagrees with the rule or an id seen twice
    assert rows
    assert all(r["split"] == split_of(r["id"]) for r in rows)


def test_labels_are_the_taxonomy_and_agree_with_each_other() -> None:
    taxonomy = set(load_tagger(model=False).taxonomy)
    for r in load_labels():
        assert r["language"] in ("en", "es"), r["id"]
        assert set(r["tags"]) <= taxonomy and len(set(r["tags"])) == len(r["tags"]), r["id"]
        assert r["migration_related"] or not r["tags"], r["id"]
        assert not (r["hard_negative"] and r["migration_related"]), r["id"]


def test_corpus_rows_store_ids_only_and_written_rows_their_text() -> None:
    for path in sorted(DATA.glob("tags_*.jsonl")):
        for r in read_jsonl(path):
            if "corpus" in r:
                assert set(r) == _FIELDS | {"corpus"} and r["corpus"] in CORPUS_FILES, r["id"]
            else:
                assert set(r) == _FIELDS | {"title", "text"} and r["text"].strip(), r["id"]


def _corpus_row(title: str, text: str, related: bool = False) -> dict:
    return {"id": "x", "corpus": "bbc-2005", "migration_related": related, "title": title,
            "text": text}  # fmt: skip


def test_the_hard_negative_flag_follows_the_word_rule() -> None:
    """Invented rows: the flag is a rule (a word starting with a migration stem, or the
    words fled/camp/camps), so no labeller decides it and loading checks every row."""
    assert hard_negative(_corpus_row("Tourism up", "Visitors filled the hotels."))
    assert hard_negative(_corpus_row("", "The striker's TRANSFER fee was a record."))
    assert hard_negative(_corpus_row("", "Residents fled the fire; a camp was set up."))
    assert not hard_negative(_corpus_row("", "Campaigners cheered the camper van."))  # whole words
    assert not hard_negative(_corpus_row("Council budget", "The library will reopen in May."))
    assert not hard_negative(_corpus_row("", "Migrants crossed the border.", related=True))
    assert not hard_negative(_corpus_row("", "Transatlantic flights resumed."))  # not a stem


def test_every_written_negative_is_a_hard_negative() -> None:
    written = [r for r in load_labels() if "corpus" not in r]
    assert written
    for r in written:
        assert r["hard_negative"] == hard_negative(r) == (not r["migration_related"]), r["id"]


def test_rows_are_scored_on_what_a_worker_tags(tmp_path: Path) -> None:
    """Training and scoring read a row as the enrich stage does (cleaned text, NER entities),
    so the tags the bench computes are the tags a worker would index."""
    text = ("Migrants from   Eritrea and Sudan\u200b crossed into Libya, where the coastguard "
            "held them near Tripoli before boats left for Lampedusa.")  # fmt: skip
    row = {"id": "x", "title": "Crossing  to Italy", "text": text, "language": "en"}
    spans = tmp_path / "spans.json"
    with_entities([row], spans)
    assert "\u200b" not in row["text"] and "  " not in row["title"]
    assert {"Eritrea", "Libya"} <= {e.text for e in row["entities"]}
    assert spans.exists()

    enricher = Enricher.from_settings(get_settings(), prefer_publisher_language=True)
    [article] = enricher.enrich([RawArticle(title=row["title"], body=text, language="en")])
    assert isinstance(article, EnrichedArticle)
    tags = load_tagger().tag(title=row["title"], body=row["text"], language="en",
                             entities=row["entities"])  # fmt: skip
    assert tags.migration_related and list(tags.topics) == article.topics
