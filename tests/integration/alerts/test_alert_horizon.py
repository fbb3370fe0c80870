"""Alert marks older than the alert horizon leave the changelog, and the alert, seen again
after that, is delivered again (README "State and horizons"): the worker's sweep, its time
index on disk and the tombstones, on the real stack."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from kafka import KafkaConsumer

from pipeline.alerts.fired import Fired
from pipeline.core.kafka_client import client_kwargs
from schemas import Alert
from tests.integration.alerts.test_alerts_e2e import SECRET, SECRET_ENV, STARTUP_S, _add_rule
from tests.support import SAMPLE_ARTICLE, Namespace, Receiver

pytestmark = pytest.mark.stack

HORIZON_S = 20.0
RULE = "colchane-migration"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _article() -> tuple[bytes, bytes]:
    return b"sample-1", json.dumps({
        "id": "sample-1", "body": SAMPLE_ARTICLE.read_text(encoding="utf-8"),
        "source": "Sample Desk", "title": "Crisis at the border",
        "published_at": "2022-02-07T12:00:00Z"}).encode()


def _changelog(ns: Namespace, *, until: float,
               done: Callable[[list[tuple[str, str | None]]], bool],
               ) -> list[tuple[str, str | None]]:
    """(key, mark text or None) of every record on the alerts-fired changelog, read until
    ``done`` holds."""
    consumer = KafkaConsumer(f"{ns.settings.kafka.consumer_group}-alerts-fired-changelog",
                             **client_kwargs(ns.settings), auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=500)
    seen: list[tuple[str, str | None]] = []
    try:
        while not done(seen) and time.monotonic() < until:
            seen.extend((json.loads(r.key), json.loads(r.value) if r.value is not None
                         else None) for r in consumer)  # keys and values are JSON
    finally:
        consumer.close()
    return seen


def test_marks_past_the_horizon_get_tombstones_and_the_alert_is_delivered_again(
    namespace: Namespace, receiver: Receiver,
) -> None:
    ns = namespace
    ns.env["NEWSFLOW_WEBHOOK_ALLOW_NETWORKS"] = "127.0.0.1/32"
    ns.env[SECRET_ENV] = SECRET
    ns.env["NEWSFLOW_ALERT_HORIZON_DAYS"] = str(HORIZON_S / 86400)
    ns.env["NEWSFLOW_STATE_SWEEP_SECONDS"] = "1"
    _add_rule(ns, RULE, "Colchane AND migra*", receiver.url)
    ns.start_worker()
    ns.produce([_article()])
    assert receiver.wait_for(lambda r: len(r) >= 1, timeout=STARTUP_S), ns.logs()
    key = f"{RULE}/{Alert.make_id(RULE, 'sample-1')}"

    records = _changelog(ns, until=time.monotonic() + 120,
                         done=lambda r: (key, None) in r)
    mine = [value for k, value in records if k == key]
    assert mine and mine[-1] is None, (records, ns.logs())  # the mark, then its tombstone
    marks = [Fired.from_text(text) for text in mine[:-1]]
    assert marks and all(m is not None and m.state == "sent" for m in marks), mine

    # the same article again, past the horizon: its alert is new again
    ns.produce([_article()])
    assert receiver.wait_for(lambda r: len(r) >= 2, timeout=120), ns.logs()
    assert [r.alerts[0]["id"] for r in receiver.snapshot()] == [Alert.make_id(RULE, "sample-1")] * 2
