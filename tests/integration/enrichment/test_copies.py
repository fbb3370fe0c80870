"""An exact copy published after its original is indexed skips NER, on the real stack,
also when the worker that enriched the original is gone (found in the index)."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Namespace

pytestmark = pytest.mark.stack

TITLE = "Shelters in Tapachula fill as more families arrive"
BODY = (
    "TAPACHULA - Shelters in the southern Mexican city of Tapachula were full on Sunday, "
    "aid workers said, as hundreds of families from Honduras and Guatemala waited for "
    "papers that would let them travel north. Father Miguel Ortega, who runs the largest "
    "shelter, said the Mexican Commission for Refugee Assistance had asked churches to open "
    "their halls. The United Nations refugee agency said asylum requests in Mexico had "
    "doubled since January.\n\nSome families said they had walked for weeks."
)
NEAR_BODY = BODY.replace("hundreds of families", "about 600 families")


def _message(article_id: str, source: str, url: str, body: str = BODY) -> tuple[bytes, bytes]:
    return article_id.encode(), json.dumps({
        "id": article_id, "title": TITLE, "body": body, "source": source, "url": url,
        "published_at": "2024-09-01T10:00:00Z", "authors": [f"{source} staff"],
    }).encode()


def _docs(ns: Namespace) -> dict[str, dict]:
    ns.es.indices.refresh(index=ns.settings.index.articles)
    hits = ns.es.search(index=ns.settings.index.articles, size=100,
                        query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def _skipped(port: int) -> dict[str, float]:
    """``newsflow_ner_skipped_total`` by ``found_in`` on the worker's /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {s.labels["found_in"]: s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "newsflow_ner_skipped_total"}


def test_an_exact_copy_reuses_the_indexed_enrichment_after_a_restart(
    namespace: Namespace,
) -> None:
    ns = namespace
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ns.env["NEWSFLOW_METRICS_PORT"] = str(port)

    first = ns.start_worker()
    ns.wait_for_group(1)
    ns.produce([_message("wire-1", "Wire Service", "https://wire.example/1")])
    assert ns.wait_for_count(1, timeout=300) == 1, ns.logs()
    ns.stop_all()  # the next worker has nothing of the original in memory
    assert first.poll() is not None

    ns.start_worker()
    ns.wait_for_group(1)
    ns.produce([
        _message("outlet-1", "Outlet Daily", "https://outlet.example/a"),
        _message("outlet-2", "Other Post", "https://other.example/b", body=NEAR_BODY),
    ])
    assert ns.wait_for_count(3, timeout=300) == 3, (ns.ids(), ns.logs())

    docs = _docs(ns)
    original, copy, near = docs["wire-1"], docs["outlet-1"], docs["outlet-2"]
    assert original["entities"] and original["tags"], "the text must give entities and tags"
    assert original["enrichment_of"] is None
    assert copy["enrichment_of"] == "wire-1"
    assert (copy["id"], copy["source"], copy["url"], copy["authors"]) == (
        "outlet-1", "Outlet Daily", "https://outlet.example/a", ["Outlet Daily staff"])
    for field in ("entities", "persons", "orgs", "places", "geo", "tags", "topics",
                  "language", "content_hash", "body", "title"):
        assert copy[field] == original[field], field
    assert copy["ingested_at"] > original["ingested_at"]
    assert (copy["story_id"], copy["duplicate_of"]) == ("wire-1", "wire-1")  # dedup's work
    assert near["enrichment_of"] is None and near["content_hash"] != original["content_hash"]

    deadline = time.monotonic() + 30
    counted = _skipped(port)
    while counted.get("index") != 1.0 and time.monotonic() < deadline:
        time.sleep(0.5)
        counted = _skipped(port)
    assert counted == {"index": 1.0}, counted
