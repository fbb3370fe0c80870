"""Stories older than the syndication horizon leave the changelog: one record per article
while they are remembered, then a tombstone for each, and a late copy is a new story."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from kafka import KafkaConsumer

from pipeline.core.kafka_client import client_kwargs
from tests.integration.stories.test_dedup import OUTLETS, STORY, _copy, _docs, _message
from tests.support import Namespace

pytestmark = pytest.mark.stack

HORIZON_S = 30.0


def _changelog(ns: Namespace, *, until: float,
               done: Callable[[list[tuple[str, bytes | None]]], bool],
               ) -> list[tuple[str, bytes | None]]:
    """(key, value) of every record on the dedup changelog, read until ``done`` holds."""
    consumer = KafkaConsumer(f"{ns.settings.kafka.consumer_group}-dedup-articles-changelog",
                             **client_kwargs(ns.settings), auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=500)
    seen: list[tuple[str, bytes | None]] = []
    try:
        while not done(seen) and time.monotonic() < until:
            seen.extend((json.loads(r.key), r.value) for r in consumer)  # keys are JSON
    finally:
        consumer.close()
    return seen


def test_expired_stories_get_tombstones_and_late_copies_start_a_new_story(
    namespace: Namespace,
) -> None:
    ns = namespace
    ns.env["NEWSFLOW_DEDUP_HORIZON_DAYS"] = str(HORIZON_S / 86400)
    ns.env["NEWSFLOW_STATE_SWEEP_SECONDS"] = "1"
    ns.start_worker()
    (outlet, edits), (late_outlet, late_edits) = OUTLETS[0], OUTLETS[1]
    ns.produce([_message("wire-1", STORY, "Wire")])
    assert ns.wait_for_count(1, timeout=240) == 1, ns.logs()
    ns.produce([_message("copy-1", _copy(outlet, edits), "o")])  # well within the horizon
    assert ns.wait_for_count(2, timeout=60) == 2, ns.logs()
    assert _docs(ns)["copy-1"]["story_id"] == "wire-1"

    def tombstoned(records: list[tuple[str, bytes | None]]) -> set[str]:
        return {key for key, value in records if value is None}

    records = _changelog(ns, until=time.monotonic() + 120,
                         done=lambda r: tombstoned(r) >= {"wire-1", "copy-1"})
    assert tombstoned(records) == {"wire-1", "copy-1"}, (records, ns.logs())
    written = [key for key, value in records if value is not None]
    assert sorted(written) == ["copy-1", "wire-1"]  # one record per article, no band keys

    ns.produce([_message("copy-2", _copy(late_outlet, late_edits), "o")])
    assert ns.wait_for_count(3, timeout=120) == 3, ns.logs()
    assert _docs(ns)["copy-2"] == {"story_id": "copy-2", "duplicate_of": None}
