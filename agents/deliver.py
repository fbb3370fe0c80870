"""The deliver agent: ``news.alerts`` → channels (webhook, Slack, email) + the alerts index.

Exactly once per (rule, story), as far as a receiver can tell: ``news.alerts`` is keyed by
rule id, so one worker owns all alerts of a rule, and two changelog-backed tables record
what that worker did — ``alerts-fired`` (one key per alert, ``<rule id>/<alert id>``) and
``alerts-pending`` (per rule: last message time, alerts waiting for a throttle or digest).
Both tables put a key in the changelog partition of its *rule* (``partition_for_key``),
which is the rule's partition of ``news.alerts``; the default (the current event's
partition) would be wrong in a batch that mixes partitions, and undefined in the timer.

Per batch: drop alerts already fired or waiting → index the rest (``_id`` = alert id)
while sending them → record them → flush the changelog → let the batch be acked.  A crash
before the record re-sends with the same ``Idempotency-Key``; a crash after it sends
nothing.  A channel that keeps failing gets a dead letter (stage ``deliver``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from datetime import UTC, datetime
from functools import cache
from typing import Any

import faust
import httpx
from aiokafka.partitioner import murmur2
from elasticsearch import Elasticsearch
from faust.types import EventT, StreamT
from pydantic import ValidationError

from agents.alerts import alerts_topic, rules_ready, wait_for_rule
from agents.app import app, batches, dead_letter, send_dead_letters, settings
from pipeline.alerts.channels import http_client
from pipeline.alerts.delivery import deliver, failure_letter
from pipeline.alerts.rulebook import Pending, due_at, sends_at_once
from pipeline.core.es_client import es_client
from pipeline.index.writer import IndexUnavailable, index_documents
from schemas import Alert, AlertRule, DeadLetter

log = logging.getLogger("newsflow.deliver")
_MAX_BACKOFF = 30.0
Letters = list[tuple[bytes | None, DeadLetter]]


def rule_partition(rule_id: str) -> int:
    """The partition of ``news.alerts`` (and of both tables) that holds ``rule_id``: what
    the producer's default partitioner picks for the key ``rule_id.encode()``."""
    return (murmur2(rule_id.encode()) & 0x7FFFFFFF) % settings.topic_partitions


class _ByRule(faust.Table):
    """A table whose keys start with a rule id: each lives in that rule's partition.

    It also keeps the futures of its changelog writes: ``written()`` is the barrier the
    agent awaits before its batch is acked (the producer buffer's own flush gives up
    after 0.1 s, so it is no barrier).
    """

    _in_flight: list[asyncio.Future] | None = None

    def partition_for_key(self, key: Any) -> int:
        return rule_partition(str(key).split("/", 1)[0])

    def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
        future = super().send_changelog(*args, **kwargs)
        if self._in_flight is None:
            self._in_flight = []
        self._in_flight.append(future)
        return future

    async def written(self) -> None:
        futures, self._in_flight = self._in_flight or [], []
        if futures:
            await asyncio.gather(*futures)


def _table(name: str, help: str) -> faust.Table:
    table = _ByRule(app, name=name, beacon=app.tables.beacon, key_type=str, value_type=str,
                    partitions=settings.topic_partitions, help=help)
    return app.tables.add(table)  # type: ignore[return-value]


fired = _table("alerts-fired", "<rule id>/<alert id> -> sent | held | failed")
pending = _table("alerts-pending", "rule id -> Pending JSON (last message, waiting alerts)")


class _Shared:
    """What the agent and the flush timer share: the HTTP client (owned by the agent)
    and one lock per rule, so a digest flush and a new alert of the same rule never
    interleave their read-modify-write of ``pending``."""

    http: httpx.AsyncClient | None = None
    slots = asyncio.Semaphore(settings.alert_deliver_concurrency)  # messages in flight
    locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


@cache
def _es() -> Elasticsearch:
    return es_client(settings)


def _fired_key(alert: Alert) -> str:
    return f"{alert.rule_id}/{alert.id}"


async def _index(alerts: list[Alert]) -> list[tuple[Alert, str]]:
    """Index until Elasticsearch takes the batch; returns refused alerts with the reason."""
    if not alerts:
        return []
    delay = 0.5
    while True:
        try:
            rejected = await asyncio.to_thread(
                index_documents, _es(), alerts, index=settings.index_alerts)
            by_id = {alert.id: alert for alert in alerts}
            return [(by_id[r.id], f"es_{r.status}: {r.reason}") for r in rejected]
        except IndexUnavailable as e:
            log.warning("deliver: alerts index: %s; retrying in %.1fs", e, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)


async def _send(rule: AlertRule, alerts: list[Alert], events: dict[str, EventT]) -> Letters:
    """Deliver one message; the dead letters of every channel that gave up."""
    assert _Shared.http is not None
    async with _Shared.slots:
        failures = await deliver(rule, alerts, settings=settings, http=_Shared.http)
    now = datetime.now(UTC)
    letters: Letters = []
    for failure in failures:
        for alert in alerts:
            event = events.get(alert.id)
            where = ({"topic": event.message.topic, "partition": event.message.partition,
                      "offset": event.message.offset} if event is not None
                     else {"topic": settings.topic_alerts})
            letters.append((alert.rule_id.encode(),
                            failure_letter(alert, failure, first_seen=now, **where)))
    return letters


async def _handle_rule(rule: AlertRule, alerts: list[Alert], events: dict[str, EventT]) -> Letters:
    """Send now, or hold for a throttle/digest; records every alert in ``fired``."""
    async with _Shared.locks[rule.id]:
        if sends_at_once(rule):
            results = await asyncio.gather(*(_send(rule, [a], events) for a in alerts))
            for alert, failed in zip(alerts, results, strict=True):
                fired[_fired_key(alert)] = "failed" if failed else "sent"
            return [letter for failed in results for letter in failed]
        letters: Letters = []
        for alert in alerts:
            now = time.time()
            state = Pending.from_json(pending.get(rule.id))
            due = due_at(rule, now=now, last_sent=state.last_sent)
            if not state.alerts and due <= now:
                sent = await _send(rule, [alert], events)
                letters += sent
                state = Pending.from_json(pending.get(rule.id))
                state.last_sent = now
                pending[rule.id] = state.to_json()
                fired[_fired_key(alert)] = "failed" if sent else "sent"
            else:
                if not state.alerts:
                    state.due = due
                state.alerts.append(alert)
                pending[rule.id] = state.to_json()  # before ``fired``: see deliver_batch
                fired[_fired_key(alert)] = "held"
        return letters


def _decode(events: list[EventT], letters: Letters) -> dict[str, tuple[EventT, Alert]]:
    """New alerts of the batch by id: not fired before, not waiting, not repeated."""
    fresh: dict[str, tuple[EventT, Alert]] = {}
    for event in events:
        try:
            alert = Alert.model_validate_json(event.message.value or b"")
        except ValidationError as e:
            letters.append((event.message.key, dead_letter(
                event, stage="deliver", reason="invalid_alert", error=str(e).splitlines()[0])))
            continue
        if alert.id in fresh or _fired_key(alert) in fired:
            continue
        if Pending.from_json(pending.get(alert.rule_id)).holds(alert.id):
            continue  # its ``fired`` record was lost in a crash; the alert still waits
        fresh[alert.id] = (event, alert)
    return fresh


async def deliver_batch(events: list[EventT]) -> None:
    letters: Letters = []
    fresh = _decode(events, letters)
    by_rule: dict[str, list[Alert]] = defaultdict(list)
    for _, alert in fresh.values():
        by_rule[alert.rule_id].append(alert)
    rules: dict[str, AlertRule] = {}
    for rule_id in by_rule:
        rule = await wait_for_rule(rule_id, timeout=settings.alert_rule_wait_seconds)
        if rule is None or not rule.enabled:
            log.info("deliver: rule %s is %s; %d alert(s) not sent", rule_id,
                     "gone" if rule is None else "disabled", len(by_rule[rule_id]))
            continue
        rules[rule_id] = rule
    live = [alert for rule_id, alerts in by_rule.items() if rule_id in rules for alert in alerts]
    event_of = {alert_id: event for alert_id, (event, _) in fresh.items()}
    indexing = asyncio.ensure_future(_index(live))
    per_rule = await asyncio.gather(
        *(_handle_rule(rules[rule_id], by_rule[rule_id], event_of) for rule_id in rules))
    refused = await indexing
    for alert, reason in refused:
        letters.append((alert.rule_id.encode(), dead_letter(
            event_of[alert.id], stage="deliver", reason=reason.split(":")[0], error=reason)))
    letters += [letter for rule_letters in per_rule for letter in rule_letters]
    await _tables_written()  # the batch is acked after this: changelog first
    await _send_letters(letters)
    spans: dict[int, list[int]] = {}
    for event in events:
        span = spans.setdefault(event.message.partition, [event.message.offset] * 2)
        span[0] = min(span[0], event.message.offset)
        span[1] = max(span[1], event.message.offset)
    log.info("deliver: %d event(s) (offsets %s), %d new alert(s) sent or held, %d dead-lettered",
             len(events), " ".join(f"{p}:{a}-{b}" for p, (a, b) in sorted(spans.items())),
             len(live), len(letters))


@app.agent(alerts_topic)
async def deliver_alerts(stream: StreamT) -> None:
    await rules_ready()
    async with http_client(settings) as http:
        _Shared.http = http
        try:
            async for events in batches(
                stream, settings.alert_batch_size, within=settings.alert_batch_seconds
            ):
                await deliver_batch(events)
        finally:
            _Shared.http = None


def _owned() -> set[int]:
    return {tp.partition for tp in app.consumer.assignment() if tp.topic == settings.topic_alerts}


@app.timer(interval=settings.alert_flush_interval_seconds)
async def flush_waiting_alerts() -> None:
    """Send each due throttle/digest message of the rules this worker owns."""
    if _Shared.http is None or app.rebalancing or getattr(app, "in_recovery", False):
        return
    owned = _owned()
    now = time.time()
    due = [rule_id for rule_id, text in list(pending.items())
           if rule_partition(rule_id) in owned and _is_due(Pending.from_json(text), now)]
    letters: Letters = []
    for rule_id in due:
        async with _Shared.locks[rule_id]:
            state = Pending.from_json(pending.get(rule_id))
            if not _is_due(state, now):
                continue
            rule = await wait_for_rule(rule_id, timeout=0)
            if rule is not None and rule.enabled:
                letters += await _send(rule, state.alerts, {})
            else:
                log.info("deliver: rule %s is %s; %d waiting alert(s) not sent", rule_id,
                         "gone" if rule is None else "disabled", len(state.alerts))
            after = Pending.from_json(pending.get(rule_id))
            after.alerts = after.without(alert.id for alert in state.alerts)
            after.last_sent = now
            after.due = due_at(rule, now=now, last_sent=now) if after.alerts and rule else None
            pending[rule_id] = after.to_json()
    if due:
        await _tables_written()
    await _send_letters(letters)


async def _send_letters(letters: Letters) -> None:
    """Dead letters until the broker takes them: raising would ack the batch without them."""
    delay = 0.5
    while letters:
        try:
            await send_dead_letters(letters)
            return
        except Exception as e:  # noqa: BLE001 - any send failure: same answer, try again
            log.warning("deliver: %d dead letter(s) not sent (%s); retrying in %.1fs",
                        len(letters), e, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)


async def _tables_written() -> None:
    await asyncio.gather(fired.written(), pending.written())  # type: ignore[attr-defined]


def _is_due(state: Pending, now: float) -> bool:
    return bool(state.alerts) and (state.due or 0.0) <= now
