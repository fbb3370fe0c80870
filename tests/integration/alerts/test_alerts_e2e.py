"""Alerts in the stream, end to end on the real stack: rule → article → signed webhook.

Rules are written with the real ``newsflow alerts`` command; the worker is a real
``newsflow worker`` process; the webhook receiver is a real HTTP server on 127.0.0.1 that
records every request (and can answer slowly, or with an error).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from pipeline.alerts.channels import verify
from schemas import Alert, DeadLetter
from tests.support import ROOT, SAMPLE_ARTICLE, Namespace, Received, Receiver

pytestmark = pytest.mark.stack

SECRET = "e2e-webhook-signing-secret-5f1a07c3d9"  # ≥ 32 bytes
SECRET_ENV = "NEWSFLOW_TESTS_WEBHOOK_SECRET"
STARTUP_S = 180.0  # a cold worker loads spaCy models and recovers its tables


# --- a real webhook receiver -----------------------------------------------------------
@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def ns(namespace: Namespace) -> Namespace:
    """The namespace with webhooks to 127.0.0.1 allowed."""
    namespace.env["NEWSFLOW_WEBHOOK_ALLOW_NETWORKS"] = "127.0.0.1/32"
    namespace.env["NEWSFLOW_WEBHOOK_BACKOFF_SECONDS"] = "0.1"
    namespace.env[SECRET_ENV] = SECRET
    namespace.settings = namespace.settings.replaced(webhook={"allow_networks": ["127.0.0.1/32"]})
    return namespace


def _wait_for(fact: Callable[[], bool], *, timeout: float, ns: Namespace) -> None:
    deadline = time.monotonic() + timeout
    while not fact():
        assert time.monotonic() < deadline, ns.logs()
        time.sleep(0.1)


def _cli(ns: Namespace, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "agents.cli", "alerts", *args], env=ns.env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _add_rule(ns: Namespace, rule_id: str, query: str, url: str) -> None:
    _cli(ns, "add", "--id", rule_id, "--name", rule_id.replace("-", " "), "--query", query,
         "--webhook", url, "--secret-env", SECRET_ENV)


def _article(article_id: str, body: str, *, source: str = "newsflow-tests",
             title: str | None = None) -> tuple[bytes, bytes]:
    return article_id.encode(), json.dumps({
        "id": article_id, "body": body, "source": source, "title": title,
        "published_at": "2022-02-07T12:00:00Z"}).encode()


def _alerts_on_topic(ns: Namespace, expect: int) -> list[Alert]:
    records = ns.consume(ns.settings.topics.alerts, expect=expect, timeout=120)
    return [Alert.model_validate_json(r.value) for r in records]


# --- (a) one signed webhook per story --------------------------------------------------
def test_sample_article_fires_one_signed_webhook_and_copies_fire_none(
    ns: Namespace, receiver: Receiver
) -> None:
    _add_rule(ns, "colchane-migration", "Colchane AND migra*", receiver.url)
    ns.start_worker()
    body = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    ns.produce([_article("sample-1", body, source="Sample Desk", title="Crisis at the border")])
    assert receiver.wait_for(lambda r: len(r) >= 1, timeout=STARTUP_S), ns.logs()

    (first,) = receiver.snapshot()
    verify(first.body, first.headers, SECRET)
    (alert,) = first.alerts
    assert (alert["rule_id"], alert["story_id"], alert["article_id"]) == (
        "colchane-migration", "sample-1", "sample-1")
    assert alert["id"] == Alert.make_id("colchane-migration", "sample-1")

    # The same article again, and a syndicated copy from another outlet with small edits.
    copy = ("From the Andes Wire desk.\n\n" + body.replace("Tuesday", "Wednesday")
            + "\n\nCopyright Andes Wire.")
    ns.produce([_article("sample-1", body, source="Sample Desk", title="Crisis at the border"),
                _article("andes-77", copy, source="Andes Wire")])
    alerts = _alerts_on_topic(ns, expect=3)
    assert len(alerts) == 3 and {a.id for a in alerts} == {alert["id"]}, alerts
    assert {a.article_id for a in alerts} == {"sample-1", "andes-77"}

    # A later story of the same rule: once its webhook is in, the deliver agent has
    # processed the repeats before it (one rule → one partition, in order).
    ns.produce([_article("later-2", "Officials in Colchane opened a reception centre for "
                         "migrants arriving on foot from Pisiga, with beds for forty families.")])
    assert receiver.wait_for(lambda r: len(r) >= 2, timeout=120), ns.logs()
    ns.wait_until_processed()  # a stray repeat would have arrived by now
    received = receiver.snapshot()
    assert [r.alerts[0]["story_id"] for r in received] == ["sample-1", "later-2"]
    for r in received:
        verify(r.body, r.headers, SECRET)

    ns.es.indices.refresh(index=ns.settings.index.alerts)
    doc = ns.es.get(index=ns.settings.index.alerts, id=alert["id"])["_source"]
    assert (doc["rule_id"], doc["story_id"]) == ("colchane-migration", "sample-1")


# --- (b) exactly once under a crash ----------------------------------------------------
_CITIES = ["Lampedusa", "Calais", "Tapachula", "Ceuta", "Iquique", "Tijuana"]
_WORDS = [
    "harbour", "council", "ferry", "winter", "ledger", "orchard", "tunnel", "lantern",
    "market", "bakery", "quarry", "meadow", "shipyard", "clinic", "library", "stadium",
    "factory", "vineyard", "warehouse", "pharmacy", "bridge", "garrison", "monastery",
    "courthouse", "brewery", "railway", "foundry", "canal", "observatory", "academy",
    "granary", "aqueduct", "fishery", "tannery", "mill", "chapel", "bazaar", "pier",
    "lighthouse", "barracks",
]


def _varied_report(i: int) -> str:
    """A short report that shares little with the others, so each is its own story."""
    rnd = random.Random(i)
    filler = " ".join(rnd.choice(_WORDS) for _ in range(40))
    return (f"{_CITIES[i % len(_CITIES)]}: {i + 12} migrants reached the border post "
            f"on day {i}. Notes: {filler}.")


def test_sigkill_mid_delivery_neither_loses_nor_repeats_an_alert(ns: Namespace) -> None:
    slow = Receiver(delay=0.2)
    try:
        _add_rule(ns, "border", "border AND migrants", slow.url)
        _add_rule(ns, "lampedusa", "Lampedusa", slow.url)
        _add_rule(ns, "calais", "Calais", slow.url)
        total = 90
        ns.produce([_article(f"r-{i:03d}", _varied_report(i)) for i in range(total)])
        worker = ns.start_worker()
        assert slow.wait_for(lambda r: len(r) >= 20, timeout=STARTUP_S), ns.logs()
        ns.kill_worker(worker)
        at_kill = len(slow.snapshot())

        ns.start_worker()
        assert ns.wait_for_count(total, timeout=STARTUP_S) == total, ns.logs()
        ns.es.indices.refresh(index=ns.settings.index.articles)
        hits = ns.es.search(index=ns.settings.index.articles, size=1000,
                            source=["story_id", "body"])["hits"]["hits"]
        expected: set[str] = set()
        for hit in hits:
            story, text = hit["_source"]["story_id"], hit["_source"]["body"]
            expected.add(Alert.make_id("border", story))
            for city in ("Lampedusa", "Calais"):
                if text.startswith(city):
                    expected.add(Alert.make_id(city.lower(), story))
        assert at_kill < len(expected), "the kill must land mid-delivery"

        def alert_ids(received: list[Received]) -> set[str]:
            return {a["id"] for r in received for a in r.alerts}

        if not slow.wait_for(lambda r: alert_ids(r) >= expected, timeout=120):
            produced = {a.id for a in _alerts_on_topic(ns, expect=10_000)}
            got = alert_ids(slow.snapshot())
            pytest.fail(f"expected {len(expected)} alerts, matched {len(produced & expected)} "
                        f"(+{len(produced - expected)} unexpected), received {len(got)}; "
                        f"missing and matched: {len((expected - got) & produced)}\n{ns.logs()}")
        ns.wait_until_processed()  # redeliveries would have arrived by now
        received = slow.snapshot()
        assert alert_ids(received) == expected
        keys = {r.key for r in received}
        assert len(keys) == len(expected), "an alert went out in two different messages"
        assert all(len(r.alerts) == 1 for r in received)
        print(f"\nexactly-once: {len(expected)} alerts, {len(received)} requests, "
              f"{len(received) - len(keys)} redelivered with the same key, "
              f"{at_kill} received before the kill")
    finally:
        slow.close()


# --- (c) a refusing webhook → dead letter -----------------------------------------------
def test_refused_webhook_goes_to_dead_letters_with_stage_deliver(ns: Namespace) -> None:
    refusing = Receiver(status=400)
    try:
        _add_rule(ns, "refused", "Colchane", refusing.url)
        ns.start_worker()
        ns.produce([_article("c-1", "Police in Colchane counted migrants at dawn.")])
        (record,) = ns.consume(ns.settings.topics.deadletter, expect=1, timeout=STARTUP_S)
        letter = DeadLetter.model_validate_json(record.value)
        assert (letter.stage, letter.reason, letter.key) == ("deliver", "webhook_400", "refused")
        assert "400" in letter.error
        alert = Alert.model_validate_json(letter.payload())
        assert (alert.rule_id, alert.story_id) == ("refused", "c-1")
        assert len(refusing.snapshot()) == 1  # a 400 is not retried
    finally:
        refusing.close()


# --- (d) rules change while the worker runs ---------------------------------------------
def test_rules_added_and_disabled_at_run_time_take_effect(
    ns: Namespace, receiver: Receiver
) -> None:
    _add_rule(ns, "ceuta", "Ceuta", receiver.url)
    ns.start_worker()
    ns.produce([_article("d-0", "Guards at Ceuta counted migrants on the breakwater.")])
    assert receiver.wait_for(lambda r: len(r) >= 1, timeout=STARTUP_S), ns.logs()

    _add_rule(ns, "melilla", "Melilla", receiver.url)  # while the worker runs
    ns.produce([_article("d-1", "A fence near Melilla was crossed by dozens of migrants.")])
    assert receiver.wait_for(
        lambda r: any(a["rule_id"] == "melilla" for x in r for a in x.alerts), timeout=60
    ), ns.logs()

    applied = ns.log_lines("record(s) applied")
    _cli(ns, "disable", "melilla")
    _wait_for(lambda: ns.log_lines("record(s) applied") > applied, timeout=30, ns=ns)
    ns.produce([_article("d-2", "Between Ceuta and Melilla, coast guards rescued migrants "
                         "from two rubber boats in rough seas overnight.")])
    assert receiver.wait_for(
        lambda r: any(a["story_id"] == "d-2" for x in r for a in x.alerts), timeout=60
    ), ns.logs()
    # Both rules' alerts of one article leave the match stage in one acknowledged send:
    # had the disabled rule fired, its alert would be on the topic next to ceuta's.
    on_topic = _alerts_on_topic(ns, expect=3)
    fired = sorted((a.rule_id, a.story_id) for a in on_topic)
    assert fired == [("ceuta", "d-0"), ("ceuta", "d-2"), ("melilla", "d-1")], fired


# --- (e) throttle: what arrives inside the gap waits and goes out as one digest -------
def test_throttled_rule_sends_the_alerts_of_its_gap_as_one_digest(
    ns: Namespace, receiver: Receiver
) -> None:
    _cli(ns, "add", "--id", "ceuta-gap", "--name", "Ceuta with a gap", "--query", "Ceuta",
         "--webhook", receiver.url, "--secret-env", SECRET_ENV, "--throttle", "10")
    ns.start_worker()
    ns.produce([_article("e-0", "Guards at Ceuta counted migrants on the breakwater.")])
    assert receiver.wait_for(lambda r: len(r) >= 1, timeout=STARTUP_S), ns.logs()
    ns.produce([
        _article("e-1", "Fishermen near Ceuta pulled two swimmers from the water at dusk."),
        _article("e-2", "In Ceuta a court heard the case of minors who crossed in May."),
    ])
    assert receiver.wait_for(lambda r: len(r) >= 2, timeout=60), ns.logs()
    ns.wait_until_processed()  # a throttle that did not hold would have sent e-2 by now
    first, digest = receiver.snapshot()
    assert [a["story_id"] for a in first.alerts] == ["e-0"]
    assert sorted(a["story_id"] for a in digest.alerts) == ["e-1", "e-2"]
    verify(digest.body, digest.headers, SECRET)
    assert digest.key != first.key


# --- (f) a rule past its time budget is switched off; the stream goes on -------------
def test_a_rule_past_its_budget_is_disabled_and_the_stream_goes_on(
    ns: Namespace, receiver: Receiver
) -> None:
    # Sixteen leading-wildcard patterns: each is tried against every term of an article.
    # On an article of 8,000 distinct terms that is ~0.35 s of CPU; on a short one,
    # well under a millisecond.  The budget is 5 ms of CPU per rule and article.
    heavy = " OR ".join(f"*a*b*c*d*e*f*g*h*{c}*q" for c in "zyxwvutsrponmlkj")
    ns.env["NEWSFLOW_ALERT_RULE_BUDGET_MS"] = "5"
    _add_rule(ns, "heavy", heavy, receiver.url)
    _add_rule(ns, "ceuta", "Ceuta", receiver.url)
    ns.start_worker()
    rnd = random.Random(13)
    terms = " ".join(f"abcdefgh{rnd.randrange(10**6):06d}q" for _ in range(8_000))
    ns.produce([_article("f-0", "Guards at Ceuta counted migrants on the breakwater.")])
    assert receiver.wait_for(lambda r: len(r) >= 1, timeout=STARTUP_S), ns.logs()
    ns.produce([
        _article("f-big", f"A ledger from Ceuta listed these entries: {terms}."),
        _article("f-1", "In Ceuta a court heard the case of minors who crossed in May."),
        _article("f-2", "Fishermen near Ceuta pulled two swimmers from the water at dusk."),
    ])

    # Other alerts go on: ceuta fires for every story, the big one included.
    def ceuta_stories(received: list[Received]) -> set[str]:
        return {a["story_id"] for x in received for a in x.alerts if a["rule_id"] == "ceuta"}

    assert receiver.wait_for(
        lambda r: ceuta_stories(r) == {"f-0", "f-big", "f-1", "f-2"}, timeout=120
    ), ns.logs()
    # Ingestion and indexing go on.
    assert ns.wait_for_count(4, timeout=120) == 4, ns.logs()
    # The heavy rule is off, with its reason, for every reader of the rules topic.
    _wait_for(lambda: not json.loads(_cli(ns, "show", "heavy"))["enabled"], timeout=60, ns=ns)
    shown = json.loads(_cli(ns, "show", "heavy"))
    assert "budget of 5 ms" in shown["disabled_reason"]
    assert "'f-big'" in shown["disabled_reason"]
    assert not any(a["rule_id"] == "heavy" for x in receiver.snapshot() for a in x.alerts)
    # Re-enabling clears the reason (the user takes responsibility for the rule).
    _cli(ns, "enable", "heavy")
    shown = json.loads(_cli(ns, "show", "heavy"))
    assert shown["enabled"] is True and shown["disabled_reason"] is None


# --- (g) a replayed deliver dead letter goes to the failed channel, once ------------------
def test_replayed_deliver_letter_is_delivered_once_to_the_channel_that_failed(
    ns: Namespace, receiver: Receiver
) -> None:
    down = Receiver(status=400)
    try:
        _cli(ns, "add", "--id", "twofold", "--name", "Two channels", "--query", "Colchane",
             "--webhook", down.url, "--secret-env", SECRET_ENV, "--slack", receiver.url)
        ns.start_worker()
        ns.produce([_article("f-1", "Police in Colchane counted migrants at dawn.")])
        (record,) = ns.consume(ns.settings.topics.deadletter, expect=1, timeout=STARTUP_S)
        assert DeadLetter.model_validate_json(record.value).reason == "webhook_400"
        assert receiver.wait_for(lambda r: len(r) == 1, timeout=30)  # slack took it
        down.status = 200  # the webhook receiver is fixed

        def replay_and_follow(article_id: str, body: str, *, slack_total: int) -> None:
            done = subprocess.run(
                [sys.executable, "-m", "agents.cli", "deadletter", "replay", "--stage", "deliver"],
                env=ns.env, cwd=ROOT, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0 and "re-published 1 message(s)" in done.stdout, done
            # a later alert of the same rule: one rule is one partition, so once it is in,
            # the replayed alert before it has been handled
            ns.produce([_article(article_id, body)])
            assert down.wait_for(
                lambda r: any(a["story_id"] == article_id for x in r for a in x.alerts),
                timeout=120), ns.logs()
            assert receiver.wait_for(lambda r: len(r) == slack_total, timeout=30)

        replay_and_follow("f-2", "A shelter in Colchane opened for families crossing on foot.",
                          slack_total=2)
        stories = [a["story_id"] for r in down.snapshot() for a in r.alerts]
        assert stories == ["f-1", "f-1", "f-2"]  # the 400, the replay, the next alert
        assert len(receiver.snapshot()) == 2  # slack: f-1 once, f-2; not f-1 again

        replay_and_follow("f-3", "Buses left Colchane for Iquique with migrants on board.",
                          slack_total=3)
        stories = [a["story_id"] for r in down.snapshot() for a in r.alerts]
        assert stories == ["f-1", "f-1", "f-2", "f-3"]  # delivered now: a replay is a no-op
        assert len(receiver.snapshot()) == 3
    finally:
        down.close()
