"""Operator tools on the real stack: /metrics, JSON logs without secrets, ``newsflow status``,
``newsflow deadletter list|replay``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from pipeline.alerts.store import RuleStore
from pipeline.core.kafka_client import client_kwargs
from pipeline.operations.offsets import admin_client, group_offsets
from schemas import AlertRule, DeadLetter
from schemas.alerts import WebhookChannel
from tests.support import ROOT, Namespace, article_json

pytestmark = pytest.mark.stack

WEBHOOK_SECRET = "webhook-secret-c0ffee42-0123456789abcdef"  # >= 32 bytes
SMTP_SECRET = "smtp-secret-9a9a"
T = TypeVar("T")


@pytest.fixture
def ns(namespace: Namespace) -> Namespace:
    """The namespace with a free /metrics port and JSON logs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    namespace.env.update({
        "NEWSFLOW_METRICS_PORT": str(port),
        "NEWSFLOW_METRICS_LAG_SECONDS": "1",
        "NEWSFLOW_LOG_FORMAT": "json",
    })
    return namespace


def _until(probe: Callable[[], T], done: Callable[[T], bool], *, timeout: float = 90) -> T:
    deadline = time.monotonic() + timeout
    value = probe()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = probe()
    return value


def _cli(ns: Namespace, *args: str, code: int = 0) -> str:
    """Run ``newsflow ARGS``; its stdout, or its stderr when a failure ``code`` is expected."""
    done = subprocess.run([sys.executable, "-m", "agents.cli", *args], env=ns.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stdout + done.stderr
    return done.stdout if code == 0 else done.stderr


def _scrape(ns: Namespace) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample on the worker's /metrics, by name and sorted labels; {} while it is down."""
    try:
        text = httpx.get(f"http://127.0.0.1:{ns.env['NEWSFLOW_METRICS_PORT']}/metrics",
                         timeout=5).text
    except httpx.HTTPError:
        return {}
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _raw_lags(ns: Namespace, samples: dict) -> list[float | None]:
    """The lag gauge of each raw partition; None where the series is missing."""
    raw = ns.settings.topics.raw
    return [samples.get(("newsflow_consumer_lag", (("partition", str(p)), ("topic", raw))))
            for p in range(ns.settings.topics.partitions)]


def _status(ns: Namespace) -> dict[str, Any]:
    return json.loads(_cli(ns, "status", "--json"))


def _raw_end(ns: Namespace) -> int:
    admin = admin_client(ns.settings)
    try:
        rows = group_offsets(admin, ns.settings.kafka.consumer_group, [ns.settings.topics.raw])
    finally:
        admin.close()
    return sum(row.end for row in rows)


def test_metrics_status_and_deadletter_list_after_a_mixed_batch(ns: Namespace) -> None:
    # Secrets the worker holds; none may reach its log.  (The passwords are the stack's
    # own, used for real; the webhook secret arrives with a rule on the rules topic.)
    es_password, sasl_password = ns.settings.es_secret(), ns.settings.kafka_secret()
    assert es_password and sasl_password
    ns.env.update({"NEWSFLOW_ES_PASSWORD": es_password,
                   "NEWSFLOW_KAFKA_SASL_PASSWORD": sasl_password,
                   "NEWSFLOW_SMTP_PASSWORD": SMTP_SECRET})
    store = RuleStore(ns.settings, es=ns.es)
    now = datetime.now(UTC)
    store.put_rule(AlertRule(
        id="never-matches", name="never", query="zzqxnomatchword", created_at=now,
        updated_at=now,
        channels=[WebhookChannel.model_validate(
            {"url": "https://hooks.example.org/x", "secret": WEBHOOK_SECRET})]))
    store.close()

    good = [(f"art-{i:05d}".encode(), article_json(i)) for i in range(3)]
    bad = [(b"bad-json", b'{"body": "unterminated'),
           (b"bad-nobody", json.dumps({"title": "no body here"}).encode())]
    ns.produce(good[:2] + bad + good[2:])
    ns.start_worker()
    assert ns.wait_for_count(3, timeout=180) == 3, ns.logs()
    assert len(ns.consume(ns.settings.topics.deadletter, expect=2)) == 2

    # /metrics: every stage counted what it saw, dead letters by reason
    samples = _until(lambda: _scrape(ns),
                     lambda s: _sample(s, "newsflow_articles_total", stage="index",
                                       outcome="out") >= 3)
    assert _sample(samples, "newsflow_articles_total", stage="validate", outcome="in") == 5
    assert _sample(samples, "newsflow_articles_total", stage="validate", outcome="out") == 3
    assert _sample(samples, "newsflow_articles_total", stage="validate",
                   outcome="dead_letter") == 2
    assert _sample(samples, "newsflow_articles_total", stage="enrich", outcome="out") == 3
    assert _sample(samples, "newsflow_articles_total", stage="index", outcome="out") == 3
    assert _sample(samples, "newsflow_dead_letters_total", stage="validate",
                   reason="invalid_json") == 1
    assert _sample(samples, "newsflow_dead_letters_total", stage="validate",
                   reason="missing_body") == 1
    assert _sample(samples, "newsflow_index_latency_seconds_count") == 3
    assert _sample(samples, "newsflow_batch_size_sum", stage="validate") == 5
    assert _sample(samples, "newsflow_es_bulk_seconds_count", outcome="ok") >= 1

    # the lag gauge reaches 0 on every raw partition once the offsets are committed
    lags = _until(lambda: _raw_lags(ns, _scrape(ns)), lambda lags: lags == [0, 0, 0, 0])
    assert lags == [0, 0, 0, 0]

    # newsflow status --json: services up, lag 0, dead letters by reason, counts, one worker
    raw = ns.settings.topics.raw
    report = _until(lambda: _status(ns), lambda r: r["total_lag"] == 0 and r["workers"])
    assert report["ok"] and report["kafka"]["reachable"]
    assert report["elasticsearch"]["health"] in ("green", "yellow")
    topics = {t["name"]: t for t in report["topics"]}
    assert {raw, ns.settings.topics.enriched} <= set(topics)
    assert sum(p["end"] for p in topics[raw]["partitions"]) == 5
    assert all(p["lag"] == 0 for t in report["topics"] for p in t["partitions"]), report
    assert report["dead_letters"]["total"] == 2
    assert {(r["stage"], r["reason"], r["count"]) for r in report["dead_letters"]["by_reason"]} \
        == {("validate", "invalid_json", 1), ("validate", "missing_body", 1)}
    indices = {i["name"]: i["docs"] for i in report["indices"]}
    assert indices[ns.settings.index.articles] == 3
    assert len(report["workers"]) == 1 and report["workers"][0]["partitions"] >= 4

    # newsflow deadletter list
    listed = json.loads(_cli(ns, "deadletter", "list", "--json"))
    assert {(d["key"], d["stage"], d["reason"]) for d in listed} == {
        ("bad-json", "validate", "invalid_json"), ("bad-nobody", "validate", "missing_body")}
    by_key = {d["key"]: d for d in listed}
    assert by_key["bad-json"]["payload_bytes"] == len(bad[0][1])
    assert by_key["bad-json"]["payload_preview"] == bad[0][1].decode()
    only = json.loads(_cli(ns, "deadletter", "list", "--reason", "missing_body", "--json"))
    assert [d["key"] for d in only] == ["bad-nobody"]

    # the worker logged JSON lines, and no secret
    ns.stop_all()
    log = "\n".join(p.read_text() for p in sorted(ns.tmp.glob("worker-*.log")))
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(e["logger"] == "newsflow.metrics" for e in entries)
    assert any(e["level"] == "warning" and "dead letter" in e["message"] for e in entries)
    for secret in (es_password, sasl_password, WEBHOOK_SECRET, SMTP_SECRET):
        assert secret not in log


def _dead_letter(ns: Namespace, key: str, payload: bytes, *, stage: str, reason: str) -> None:
    letter = DeadLetter(stage=stage,  # type: ignore[arg-type]
                        reason=reason, error="simulated transient failure", key=key,
                        payload_b64=DeadLetter.encode(payload),
                        topic=ns.settings.topics.raw, partition=0, offset=0,
                        first_seen=datetime.now(UTC))
    producer = KafkaProducer(**client_kwargs(ns.settings), acks="all")
    producer.send(ns.settings.topics.deadletter, key=key.encode(),
                  value=letter.model_dump_json().encode()).get(timeout=30)
    producer.close()


def test_replay_republishes_original_bytes_and_a_transient_failure_gets_indexed(
    ns: Namespace,
) -> None:
    _dead_letter(ns, "art-00007", article_json(7), stage="enrich", reason="enrich_timeout")
    ns.produce([(b"bad-json", b'{"body": "unterminated')])
    ns.start_worker()
    assert len(ns.consume(ns.settings.topics.deadletter, expect=2)) == 2
    assert ns.count() == 0

    before = _raw_end(ns)
    plan = _cli(ns, "deadletter", "replay", "--dry-run")
    assert "would re-publish 2 message(s)" in plan and "key=art-00007" in plan
    assert _raw_end(ns) == before  # a dry run sends nothing

    done = _cli(ns, "deadletter", "replay")
    assert f"re-published 2 message(s) to {ns.settings.topics.raw}" in done
    assert _raw_end(ns) == before + 2

    # the transient one is indexed now; the bad one fails again: a new, identical letter
    assert ns.wait_for_count(1, timeout=120) == 1, ns.logs()
    letters = [DeadLetter.model_validate_json(r.value)
               for r in ns.consume(ns.settings.topics.deadletter, expect=3)]
    again = [letter for letter in letters if letter.key == "bad-json"]
    assert len(again) == 2 and again[0].payload() == again[1].payload()

    # replaying the same article again leaves one document: ids are stable
    assert "re-published 1 message(s)" in _cli(ns, "deadletter", "replay", "--key", "art-00007")
    _until(lambda: _status(ns), lambda r: r["total_lag"] == 0, timeout=60)
    assert ns.ids() == ["art-00007"]
    assert "no dead letters match" in _cli(ns, "deadletter", "replay", "--key", "nope", code=1)


def test_deadletter_commands_handle_a_letter_whose_payload_is_not_base64(ns: Namespace) -> None:
    broken = DeadLetter(stage="enrich", reason="hand_written", error="written by another tool",
                        key="odd-1", payload_b64="%%% not base64 %%%",
                        first_seen=datetime.now(UTC))
    producer = KafkaProducer(**client_kwargs(ns.settings), acks="all")
    producer.send(ns.settings.topics.deadletter, key=b"odd-1",
                  value=broken.model_dump_json().encode()).get(timeout=30)
    producer.send(ns.settings.topics.deadletter, key=b"junk",
                  value=b"\xff not json").get(timeout=30)
    producer.close()
    _dead_letter(ns, "art-00003", article_json(3), stage="enrich", reason="enrich_timeout")

    listed = {d["key"]: d for d in json.loads(_cli(ns, "deadletter", "list", "--json"))}
    assert set(listed) == {"odd-1", "art-00003"}
    assert listed["odd-1"]["payload_bytes"] is None
    assert "not valid base64" in listed["odd-1"]["payload_preview"]
    assert "odd-1" in _cli(ns, "deadletter", "list")  # the table too

    plan = _cli(ns, "deadletter", "replay", "--dry-run")
    assert "would re-publish 1 message(s)" in plan and "1 skipped" in plan
    assert "not valid base64" in _cli(ns, "deadletter", "replay", "--key", "odd-1", code=1)
