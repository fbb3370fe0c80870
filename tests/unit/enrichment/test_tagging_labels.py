"""The labelled topic-tag set (``bench/data/quality/tags_*.jsonl``) keeps its own rules, so
that rows appended by later labelling passes cannot leak across splits or carry labels the
tagger cannot produce."""

from __future__ import annotations

from bench.tagset import CORPUS_FILES, DATA, load_labels, read_jsonl, split_of
from pipeline.enrichment.tagging import load_tagger

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
