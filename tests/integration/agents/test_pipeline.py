"""The main job end to end on the real stack: raw → workers → Elasticsearch, nothing lost."""

from __future__ import annotations

import json
import time

import pytest

from schemas import DeadLetter
from tests.support import SAMPLE_ARTICLE, Namespace, article_json

pytestmark = pytest.mark.stack



def test_sample_article_becomes_searchable_with_its_entities(namespace: Namespace) -> None:
    body = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    namespace.produce([(b"sample", json.dumps(
        {"id": "sample", "body": body, "source": "sample",
         "published_at": "2022-02-07T12:00:00Z"}).encode())])
    namespace.start_worker()
    assert namespace.wait_for_count(1, timeout=120) == 1, namespace.logs()

    hits = namespace.es.search(index=namespace.settings.index.articles,
                               query={"query_string": {"query": "asylum AND Colchane",
                                                       "fields": ["title", "body"]}})
    assert hits["hits"]["total"]["value"] == 1
    doc = hits["hits"]["hits"][0]["_source"]
    assert doc["language"] == "en"
    assert "Rodrigo Delgado" in doc["persons"]
    assert {"Iquique", "Colchane", "Bolivia"} <= set(doc["places"])
    assert "Venezuelans" in doc["nationalities"]


def test_sigkill_midway_loses_and_duplicates_nothing(namespace: Namespace) -> None:
    total = 1000
    namespace.produce([(f"art-{i:05d}".encode(), article_json(i)) for i in range(total)])
    worker = namespace.start_worker()
    deadline = time.monotonic() + 180
    while namespace.count() < 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    midway = namespace.count()
    assert 0 < midway < total, f"kill must land midway, saw {midway}\n{namespace.logs()}"
    namespace.kill_worker(worker)

    namespace.start_worker()
    assert namespace.wait_for_count(total, timeout=300) == total, namespace.logs()
    namespace.wait_until_processed()  # a replay after the count was reached would show now
    ids = namespace.ids()
    assert len(ids) == total
    assert sorted(ids) == [f"art-{i:05d}" for i in range(total)]


def test_poison_batch_goes_to_dead_letters_and_counts_reconcile(namespace: Namespace) -> None:
    poison = {
        b"p-json": (b'{"body": "unterminated', "invalid_json"),
        b"p-nobody": (json.dumps({"title": "no body"}).encode(), "missing_body"),
        b"p-huge": (json.dumps({"body": "x" * 10_000_000}).encode(), "body_too_large"),
        b"p-types": (json.dumps({"body": ["not", "text"], "title": 5}).encode(), "invalid_field"),
        b"p-utf8": (b'{"body": "caf\xe9 \xff"}', "invalid_utf8"),
        b"p-empty": (b"", "empty_message"),
    }
    good = [(f"art-{i:05d}".encode(), article_json(i)) for i in range(20)]
    messages = good[:10] + [(k, v) for k, (v, _) in poison.items()] + good[10:]
    namespace.produce(messages)
    namespace.start_worker()

    letters = namespace.consume(namespace.settings.topics.deadletter, expect=len(poison),
                                timeout=180)  # a cold worker loads its models first
    by_key = {r.key: DeadLetter.model_validate_json(r.value) for r in letters}
    assert set(by_key) == set(poison), namespace.logs()
    for key, (payload, reason) in poison.items():
        letter = by_key[key]
        assert (letter.stage, letter.reason) == ("validate", reason)
        assert letter.payload() == payload  # the original bytes, to fix and replay
        assert letter.error

    assert namespace.wait_for_count(len(good), timeout=120) == len(good), namespace.logs()
    namespace.wait_until_processed()
    assert namespace.count() + len(by_key) == len(messages)
