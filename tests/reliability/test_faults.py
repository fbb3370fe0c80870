"""The fault suite: articles stream through while the pipeline's parts fail under it.

Each test runs an isolated namespace with real workers and alert rules (added with the real
``newsflow alerts`` command, webhooks to a loopback receiver that records every request),
publishes ``ARTICLES`` short articles at a steady rate from a producer that retries, and
injects one fault midway: a worker SIGKILLed and restarted, Elasticsearch stopped for 30 s,
the Kafka broker stopped and restarted, or a second worker joining and leaving (SIGTERM).

After each fault the same three promises must hold:
  * every published article is in the index exactly once (id sets equal);
  * every alert that should fire fired exactly once: the distinct Idempotency-Keys are the
    expected (rule, story) pairs, computed from the indexed stories; raw redeliveries
    carrying the same key are counted and printed, not failed;
  * published = indexed + dead-lettered, and nothing was dead-lettered (the outages are
    transient; nothing here is poison).

Stopping Kafka or Elasticsearch affects the shared local stack: each such test restores the
service in a ``finally`` and waits until ``newsflow stack status`` is ready again.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError

from pipeline import stack as local_stack
from pipeline.core.kafka_client import client_kwargs
from schemas import Alert, DeadLetter
from tests.support import ROOT, Namespace, Received, Receiver

pytestmark = [pytest.mark.stack, pytest.mark.faults, pytest.mark.timeout(1500)]

ARTICLES = int(os.environ.get("NEWSFLOW_FAULT_ARTICLES", "2000"))
RATE = 40.0  # articles per second: the stream outlasts the fault
STARTUP_S = 180.0  # a cold worker loads spaCy models and recovers its tables
CATCH_UP_S = 600.0
SECRET = "faults-webhook-signing-secret-3c9e71b0"  # ≥ 32 bytes
SECRET_ENV = "NEWSFLOW_TESTS_WEBHOOK_SECRET"
RULES = {  # rule id → (query, does this article body match it?)
    "lampedusa": ("Lampedusa", lambda body: "Lampedusa" in body),
    "calais": ("Calais", lambda body: "Calais" in body),
    "tapachula-shelter": ("Tapachula AND shelter",
                          lambda body: "Tapachula" in body and "shelter" in body),
}
_PLACES = ["Lampedusa", "Calais", "Tapachula", "Ceuta", "Iquique", "Tijuana", "Lesbos"]
_WORDS = [
    "copper", "teapot", "glacier", "violin", "saddle", "compass", "thimble", "walnut",
    "kettle", "anchor", "pebble", "lantern", "harvest", "ribbon", "tractor", "ladder",
    "cobalt", "maple", "quilt", "spindle", "trumpet", "granite", "parsley", "bucket",
    "pigeon", "velvet", "mortar", "candle", "barrel", "juniper", "saffron", "chisel",
    "falcon", "oyster", "marble", "hammock", "thistle", "canoe", "biscuit", "lagoon",
]


# --- fixtures ---------------------------------------------------------------------------
@pytest.fixture
def ns(namespace: Namespace) -> Namespace:
    """The namespace with webhooks to 127.0.0.1 allowed."""
    namespace.env["NEWSFLOW_WEBHOOK_ALLOW_NETWORKS"] = "127.0.0.1/32"
    namespace.env["NEWSFLOW_WEBHOOK_BACKOFF_SECONDS"] = "0.1"
    namespace.settings = namespace.settings.replaced(webhook={"allow_networks": ["127.0.0.1/32"]})
    return namespace


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


# --- the stream -------------------------------------------------------------------------
def _body(i: int) -> str:
    """A short report that shares little with the others, so each is its own story."""
    rnd = random.Random(i * 7919)
    filler = " ".join(rnd.choice(_WORDS) for _ in range(30))
    extra = " Volunteers opened a shelter." if i % 2 else ""
    return (f"{_PLACES[i % len(_PLACES)]}: {i + 5} migrants were counted at the harbour on "
            f"day {i}.{extra} Inventory: {filler}.")


def _article(i: int) -> tuple[bytes, bytes]:
    aid = f"f-{i:05d}"
    return aid.encode(), json.dumps({"id": aid, "body": _body(i), "source": "newsflow-faults",
                                     "published_at": "2024-03-01T12:00:00Z"}).encode()


class Stream:
    """Publishes the articles at ``RATE`` in a thread; a message whose send fails (the broker
    is gone) is sent again until it is acknowledged, so it may land twice, never zero times."""

    def __init__(self, ns: Namespace, total: int) -> None:
        self.ns, self.total = ns, total
        self.acked: set[str] = set()
        self.resent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Stream:
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"producer still publishing after {timeout}s"
        if self.error is not None:
            raise AssertionError(f"producer failed: {self.error!r}") from self.error

    def _producer(self) -> KafkaProducer:
        while True:
            try:
                return KafkaProducer(**client_kwargs(self.ns.settings), acks="all",
                                     retries=5, request_timeout_ms=10_000)
            except (KafkaError, OSError):
                time.sleep(1)

    def _run(self) -> None:
        try:
            producer = self._producer()
            batch = max(1, int(RATE / 4))
            for start in range(0, self.total, batch):
                pending = [_article(i) for i in range(start, min(start + batch, self.total))]
                while pending:
                    futures = [(m, producer.send(self.ns.settings.topics.raw, key=m[0], value=m[1]))
                               for m in pending]
                    pending = []
                    for message, future in futures:
                        try:
                            future.get(timeout=30)
                            self.acked.add(message[0].decode())
                        except (KafkaError, OSError):
                            pending.append(message)
                    if pending:
                        self.resent += len(pending)
                        time.sleep(1)
                        producer.close(timeout=5)
                        producer = self._producer()
                time.sleep(batch / RATE)
            producer.close()
        except BaseException as e:  # noqa: BLE001 - reported by join()
            self.error = e


# --- helpers ----------------------------------------------------------------------------
def _add_rules(ns: Namespace, url: str) -> None:
    for rule_id, (query, _) in RULES.items():
        done = subprocess.run(
            [sys.executable, "-m", "agents.cli", "alerts", "add", "--id", rule_id, "--name",
             rule_id.replace("-", " "), "--query", query, "--webhook", url,
             "--secret-env", SECRET_ENV],
            env={**ns.env, SECRET_ENV: SECRET}, cwd=ROOT, capture_output=True, text=True,
            timeout=120)
        assert done.returncode == 0, done.stderr


def _wait(cond: Callable[[], bool], *, timeout: float, poll: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(poll)
    return cond()


def _safe_count(ns: Namespace) -> int:
    """The index count, or -1 while Elasticsearch is away."""
    try:
        return ns.count()
    except Exception:  # noqa: BLE001 - any transport error means "not now"
        return -1


def _dead_letters(ns: Namespace) -> list[DeadLetter]:
    records = ns.consume(ns.settings.topics.deadletter, expect=10**9, timeout=8)
    return [DeadLetter.model_validate_json(r.value) for r in records]


def _expected_alerts(ns: Namespace) -> set[str]:
    ns.es.indices.refresh(index=ns.settings.index.articles)
    hits = ns.es.search(index=ns.settings.index.articles, size=10_000,
                        source=["story_id", "body"])["hits"]["hits"]
    return {Alert.make_id(rule_id, hit["_source"]["story_id"])
            for hit in hits for rule_id, (_, matches) in RULES.items()
            if matches(hit["_source"]["body"])}


def _alert_ids(received: list[Received]) -> set[str]:
    return {a["id"] for r in received for a in r.alerts}


def _wait_midway(ns: Namespace, stream: Stream) -> int:
    """Until a tenth of the stream is indexed: the fault lands here."""
    target = max(1, ARTICLES // 10)
    assert _wait(lambda: ns.count() >= target, timeout=STARTUP_S), ns.logs()
    midway = ns.count()
    assert midway < ARTICLES and len(stream.acked) < ARTICLES, (
        f"the fault must land mid-stream: {midway} indexed, {len(stream.acked)} published")
    return midway


def _stack_ready(ns: Namespace) -> bool:
    return all(row.ready for row in local_stack.status(ns.settings))


def _note_if_restarted_by_others(ns: Namespace, name: str) -> None:
    """Another session's stack fixture may start a stopped service: the outage was shorter."""
    row = next(r for r in local_stack.status(ns.settings) if r.name == name)
    if row.pid is not None:
        print(f"\nnote: {name} was started again by another session during the outage")


def _check(ns: Namespace, stream: Stream, receiver: Receiver, label: str, t0: float) -> None:
    """The three promises, after the fault has passed."""
    stream.join(timeout=CATCH_UP_S)
    published = {f"f-{i:05d}" for i in range(ARTICLES)}
    assert stream.acked == published
    indexed = ns.wait_for_count(ARTICLES, timeout=CATCH_UP_S)
    assert indexed == ARTICLES, f"{indexed}/{ARTICLES} indexed\n{ns.logs()}"
    ns.wait_until_processed()  # a replay after the count was reached would show now

    ids = ns.ids()
    assert len(ids) == len(set(ids)) == ARTICLES
    assert set(ids) == published

    letters = _dead_letters(ns)
    assert not letters, [(x.stage, x.reason, x.error[:120]) for x in letters[:10]]
    assert len(published) == ns.count() + len(letters)

    expected = _expected_alerts(ns)
    assert expected, "the rules must fire"
    if not receiver.wait_for(lambda r: _alert_ids(r) >= expected, timeout=CATCH_UP_S):
        got = _alert_ids(receiver.snapshot())
        pytest.fail(f"{label}: {len(expected - got)} of {len(expected)} expected alerts never "
                    f"arrived, {len(got - expected)} unexpected\n{ns.logs()}")
    ns.wait_until_processed()  # redeliveries would have arrived by now
    received = receiver.snapshot()
    assert _alert_ids(received) == expected
    keys = {r.key for r in received}
    assert all(len(r.alerts) == 1 for r in received)
    assert len(keys) == len(expected), "an alert went out under two different keys"
    print(f"\n{label}: {ARTICLES} articles indexed once each, {len(expected)} alerts, "
          f"{len(received)} webhook requests ({len(received) - len(keys)} redelivered with "
          f"the same key), {stream.resent} producer resends, 0 dead letters, "
          f"{time.monotonic() - t0:.0f}s")


def _setup(ns: Namespace, receiver: Receiver) -> tuple[Stream, float]:
    t0 = time.monotonic()
    _add_rules(ns, receiver.url)
    ns.start_worker()
    log = ns.tmp / "worker-0.log"
    assert _wait(lambda: "Ready" in log.read_text(), timeout=STARTUP_S), ns.logs()
    # Started once the worker is up, so the fault lands while articles are still published.
    return Stream(ns, ARTICLES).start(), t0


def _outage(ns: Namespace, receiver: Receiver, service: str, *, seconds: float,
            label: str) -> None:
    """Stop ``service`` midway through the stream for ``seconds``, start it, check."""
    stream, t0 = _setup(ns, receiver)
    _wait_midway(ns, stream)
    try:
        local_stack.stop_service(ns.settings, service)
        time.sleep(seconds)
    finally:
        _note_if_restarted_by_others(ns, service)
        local_stack.start_service(ns.settings, service)
        assert _wait(lambda: _stack_ready(ns), timeout=180), local_stack.status(ns.settings)
    _check(ns, stream, receiver, label, t0)


# --- the faults -------------------------------------------------------------------------
def test_worker_sigkill_and_restart(ns: Namespace, receiver: Receiver) -> None:
    stream, t0 = _setup(ns, receiver)
    _wait_midway(ns, stream)
    ns.kill_worker(ns._workers[0])
    ns.start_worker()
    _check(ns, stream, receiver, "sigkill", t0)


def test_elasticsearch_down_30s(ns: Namespace, receiver: Receiver) -> None:
    _outage(ns, receiver, "elasticsearch", seconds=30, label="elasticsearch-down")


def test_kafka_broker_restart(ns: Namespace, receiver: Receiver) -> None:
    _outage(ns, receiver, "kafka", seconds=10, label="kafka-restart")


def test_rebalance_second_worker_joins_then_leaves(ns: Namespace, receiver: Receiver) -> None:
    stream, t0 = _setup(ns, receiver)
    _wait_midway(ns, stream)
    second = ns.start_worker()
    log = ns.tmp / "worker-1.log"
    assert _wait(lambda: "Ready" in log.read_text(), timeout=STARTUP_S), ns.logs()
    target = min(ns.count() + ARTICLES // 20, ARTICLES)  # both workers have taken some
    assert _wait(lambda: ns.count() >= target, timeout=STARTUP_S), ns.logs()
    os.killpg(second.pid, signal.SIGTERM)
    assert second.wait(timeout=90) is not None
    assert ns._workers[0].poll() is None, f"first worker exited\n{ns.logs()}"
    _check(ns, stream, receiver, "rebalance", t0)
