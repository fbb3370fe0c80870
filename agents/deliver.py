"""The deliver agent: ``news.alerts`` → channels (webhook, Slack, email) + the alerts index.

Exactly once per (rule, story), as far as a receiver can tell: ``news.alerts`` is keyed by
rule id, so one worker owns all alerts of a rule, and two changelog-backed tables record
what that worker did — ``alerts-fired`` (one key per alert, ``<rule id>/<alert id>``) and
``alerts-pending`` (per rule: last message time, alerts waiting for a throttle or digest).
Both tables put a key in the changelog partition of its *rule* (``partition_for_key``),
which is the rule's partition of ``news.alerts``; the default (the current event's
partition) would be wrong in a batch that mixes partitions, and undefined in the timer.

What to send now and what to hold for a throttle or digest is decided by
``pipeline.alerts.ledger.AlertLedger`` over the two tables; this module only wires it.
Per batch: drop alerts already fired or waiting → index the rest (``_id`` = alert id)
while sending them → record them → flush the changelog → let the batch be acked.  A crash
before the record re-sends with the same ``Idempotency-Key``; a crash after it sends
nothing.  A channel that keeps failing gets a dead letter (stage ``deliver``); when that
letter is replayed, the alert goes once more to the channels that failed, and no other.
Both tables forget after ``alert_horizon_days``: a sweep timer deletes expired keys, which
writes tombstones that compaction removes from the changelog.  On disk, ``alerts-fired``
keeps a time index beside its marks (``pipeline.alerts.fired.time_entries``, derived in the
same write, from live writes and changelog records alike: ``agents.state_store``), so the
sweep reads only what expired, in a thread, instead of every mark on the event loop (at the
horizon's 600,000 marks that held the loop for seconds: ``bench/alert_sweep.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import faust
import httpx
from aiokafka.partitioner import murmur2
from faust.types import EventT, StreamT
from pydantic import ValidationError

from agents import state_store
from agents.alerts import rules_ready, wait_for_rule
from agents.app import (
    alerts_topic,
    app,
    batches,
    dead_letter,
    send_dead_letters,
    services,
    settings,
)
from pipeline.alerts.channels import http_client
from pipeline.alerts.delivery import deliver, failure_letter
from pipeline.alerts.fired import expired_in, time_entries
from pipeline.alerts.ledger import AlertLedger
from pipeline.alerts.rulebook import sends_at_once
from pipeline.core.derived import Derive
from pipeline.core.retry import until_done
from pipeline.index.writer import IndexUnavailable, index_documents
from schemas import Alert, AlertRule, DeadLetter

log = logging.getLogger("newsflow.deliver")
Letters = list[tuple[bytes | None, DeadLetter]]


def rule_partition(rule_id: str) -> int:
    """The partition of ``news.alerts`` (and of both tables) that holds ``rule_id``: what
    the producer's default partitioner picks for the key ``rule_id.encode()``."""
    return (murmur2(rule_id.encode()) & 0x7FFFFFFF) % settings.topics.partitions


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


def _time_entries(key: bytes, value: bytes) -> Iterable[tuple[bytes, bytes]]:
    # raw bytes as stored: JSON strings (the key, and the mark's own JSON text)
    return time_entries(json.loads(key), json.loads(value))


def _table(name: str, help: str, derive: Derive | None = None) -> _ByRule:
    table = _ByRule(app, name=name, beacon=app.tables.beacon, key_type=str, value_type=str,
                    partitions=settings.topics.partitions, help=help,
                    options=state_store.table_options(derive=derive),
                    extra_topic_configs=state_store.changelog_configs(
                        settings.state.changelog_segment_hours))
    app.tables.add(table)
    return table


fired = _table("alerts-fired", "<rule id>/<alert id> -> Fired mark (state, time, channels)",
               derive=_time_entries)
pending = _table("alerts-pending", "rule id -> Pending JSON (last message, waiting alerts)")
ledger = AlertLedger(fired, pending)


class _Shared:
    """What the agent and the flush timer share: the HTTP client (owned by the agent), a
    bound on messages in flight, and one lock per rule, so a digest flush and a new alert
    of the same rule never interleave their read-modify-write of ``pending``."""

    http: httpx.AsyncClient | None = None
    slots = asyncio.Semaphore(settings.alerts.deliver_concurrency)
    locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


async def _index(alerts: list[Alert]) -> list[tuple[Alert, str]]:
    """Index until Elasticsearch takes the batch; returns refused alerts with the reason."""
    if not alerts:
        return []

    async def write() -> list[tuple[Alert, str]]:
        rejected = await asyncio.to_thread(
            index_documents, services().es, alerts, index=settings.index.alerts)
        by_id = {alert.id: alert for alert in alerts}
        return [(by_id[r.id], f"es_{r.status}: {r.reason}") for r in rejected]

    return await until_done(write, retry_on=IndexUnavailable, log=log,
                            what=f"deliver: alerts index, {len(alerts)} alert(s)")


async def _send(rule: AlertRule, alerts: list[Alert], events: dict[str, EventT],
                only: tuple[int, ...] = ()) -> tuple[Letters, list[int]]:
    """Deliver one message (to the channels at ``only``, or all); the dead letters of
    every channel that gave up, and their positions."""
    assert _Shared.http is not None
    async with _Shared.slots:
        failures = await deliver(rule, alerts, settings=settings, http=_Shared.http, only=only)
    now = datetime.now(UTC)
    letters: Letters = []
    for failure in failures:
        for alert in alerts:
            event = events.get(alert.id)
            where = ({"topic": event.message.topic, "partition": event.message.partition,
                      "offset": event.message.offset} if event is not None
                     else {"topic": settings.topics.alerts})
            letters.append((alert.rule_id.encode(),
                            failure_letter(alert, failure, first_seen=now, **where)))
    return letters, [failure.channel for failure in failures]


async def _handle_rule(rule: AlertRule, alerts: list[Alert], events: dict[str, EventT],
                       retries: dict[str, tuple[int, ...]]) -> Letters:
    """Send now, or hold for a throttle/digest; records every alert in the ledger.  A retry
    (an alert whose channels failed, back from a replayed dead letter) goes at once to the
    channels that failed: an operator asked for it."""
    letters: Letters = []
    async with _Shared.locks[rule.id]:
        at_once = [a for a in alerts if sends_at_once(rule) or a.id in retries]
        results = await asyncio.gather(
            *(_send(rule, [a], events, retries.get(a.id, ())) for a in at_once))
        for alert, (sent, failed) in zip(at_once, results, strict=True):
            ledger.sent(rule, alert, failed=failed, now=time.time())
            letters += sent
        for alert in alerts:
            if alert in at_once:
                continue
            now = time.time()
            if ledger.sends_now(rule, now=now):
                sent, failed = await _send(rule, [alert], events)
                ledger.sent(rule, alert, failed=failed, now=now)
                letters += sent
            else:
                ledger.hold(rule, alert, now=now)
    return letters


def _decode(events: list[EventT], letters: Letters,
            retries: dict[str, tuple[int, ...]]) -> dict[str, tuple[EventT, Alert]]:
    """New alerts of the batch by id: not done before, not waiting, not repeated.  An alert
    that failed before is new again, for the channels ``retries`` gets for it."""
    fresh: dict[str, tuple[EventT, Alert]] = {}
    for event in events:
        try:
            alert = Alert.model_validate_json(event.message.value or b"")
        except ValidationError as e:
            letters.append((event.message.key, dead_letter(
                event, stage="deliver", reason="invalid_alert", error=str(e).splitlines()[0])))
            continue
        if alert.id in fresh:
            continue
        if ledger.is_new(alert):
            fresh[alert.id] = (event, alert)
            if (channels := ledger.retry_channels(alert)) is not None:
                retries[alert.id] = channels
        else:  # done before, maybe by this worker just before a crash: see write_again
            ledger.write_again(alert)
    return fresh


async def deliver_batch(events: list[EventT]) -> None:
    letters: Letters = []
    retries: dict[str, tuple[int, ...]] = {}
    fresh = _decode(events, letters, retries)
    by_rule: dict[str, list[Alert]] = defaultdict(list)
    for _, alert in fresh.values():
        by_rule[alert.rule_id].append(alert)
    rules: dict[str, AlertRule] = {}
    for rule_id in by_rule:
        rule = await wait_for_rule(rule_id, timeout=settings.alerts.rule_wait_seconds)
        if rule is None or not rule.enabled:
            log.info("deliver: rule %s is %s; %d alert(s) not sent", rule_id,
                     "gone" if rule is None else "disabled", len(by_rule[rule_id]))
            continue
        rules[rule_id] = rule
    live = [alert for rule_id, alerts in by_rule.items() if rule_id in rules for alert in alerts]
    event_of = {alert_id: event for alert_id, (event, _) in fresh.items()}
    indexing = asyncio.ensure_future(_index(live))
    per_rule = await asyncio.gather(
        *(_handle_rule(rules[rule_id], by_rule[rule_id], event_of, retries)
          for rule_id in rules))
    refused = await indexing
    for alert, reason in refused:
        letters.append((alert.rule_id.encode(), dead_letter(
            event_of[alert.id], stage="deliver", reason=reason.split(":")[0], error=reason)))
    letters += [letter for rule_letters in per_rule for letter in rule_letters]
    await _tables_written()  # the batch is acked after this: changelog first
    await send_dead_letters(letters)
    log.info("deliver: %d event(s) (offsets %s), %d new alert(s) sent or held, %d dead-lettered",
             len(events), _offset_spans(events), len(live), len(letters))


def _offset_spans(events: list[EventT]) -> str:
    spans: dict[int, list[int]] = {}
    for event in events:
        span = spans.setdefault(event.message.partition, [event.message.offset] * 2)
        span[0] = min(span[0], event.message.offset)
        span[1] = max(span[1], event.message.offset)
    return " ".join(f"{p}:{a}-{b}" for p, (a, b) in sorted(spans.items()))


@app.agent(alerts_topic)
async def deliver_alerts(stream: StreamT) -> None:
    await rules_ready()
    async with http_client(settings) as http:
        _Shared.http = http
        try:
            async for events in batches(
                stream, settings.alerts.batch_size, within=settings.alerts.batch_seconds
            ):
                await deliver_batch(events)
        finally:
            _Shared.http = None


def _owned_partitions() -> set[int]:
    return {tp.partition for tp in app.consumer.assignment()
            if tp.topic == settings.topics.alerts}


def _owns(rule_id: str) -> bool:
    return rule_partition(rule_id) in _owned_partitions()


@app.timer(interval=settings.alerts.flush_interval_seconds)
async def flush_waiting_alerts() -> None:
    """Send each due throttle/digest message of the rules this worker owns."""
    if _Shared.http is None or app.rebalancing or getattr(app, "in_recovery", False):
        return
    now = time.time()
    due = ledger.due_rules(now=now, owned=_owns)
    letters: Letters = []
    for rule_id in due:
        async with _Shared.locks[rule_id]:
            waiting = ledger.waiting(rule_id, now=now)
            if not waiting:
                continue
            rule = await wait_for_rule(rule_id, timeout=0)
            failed: list[int] = []
            if rule is not None and rule.enabled:
                sent, failed = await _send(rule, waiting, {})
                letters += sent
            else:
                log.info("deliver: rule %s is %s; %d waiting alert(s) not sent", rule_id,
                         "gone" if rule is None else "disabled", len(waiting))
            ledger.flushed(rule, rule_id, waiting, now=now, failed=failed)
    if due:
        await _tables_written()
    await send_dead_letters(letters)


MARKS_PER_SWEEP = 50_000  # a backlog (a worker stopped for days) goes over several sweeps
_DELETES_PER_SLICE = 100  # then the loop runs other work (deletes are on the loop: ~0.2 ms each)


async def expired_marks(partitions: Iterable[int], *, now: float, horizon: float) -> list[str]:
    """Keys of the ``alerts-fired`` marks past the horizon in ``partitions`` (at most
    ``MARKS_PER_SWEEP``).  On disk: from the time index, in a thread, reading only what
    expired.  Tables in memory: every mark, on the loop."""
    held = set(partitions)
    views = state_store.derived_views(fired, held)
    if views is None:
        return ledger.expired_marks(now=now, horizon_seconds=horizon,
                                    owned=lambda rule_id: rule_partition(rule_id) in held)

    def scan() -> list[str]:
        keys: list[str] = []
        for view in views:
            keys += expired_in(view, now=now, horizon_seconds=horizon,
                               limit=MARKS_PER_SWEEP - len(keys))
        return keys

    return await asyncio.to_thread(scan)


async def forget_marks(keys: list[str], *, now: float, horizon: float) -> int:
    """Delete the marks of ``keys`` still past the horizon (each checked again: found in a
    thread, a mark may have been written since), a slice at a time; returns how many."""
    gone = 0
    for start in range(0, len(keys), _DELETES_PER_SLICE):
        gone += ledger.forget_marks(keys[start:start + _DELETES_PER_SLICE], now=now,
                                    horizon_seconds=horizon)
        await asyncio.sleep(0)
    return gone


@app.timer(interval=settings.state.sweep_seconds)
async def forget_expired_alert_state() -> None:
    """Delete what is older than the alert horizon in the rules this worker owns: each
    delete writes a tombstone, and compaction drops the key from the changelog."""
    if app.rebalancing or getattr(app, "in_recovery", False):
        return
    now, horizon = time.time(), settings.state.alert_horizon_days * 86400
    partitions = _owned_partitions()
    marks = await forget_marks(await expired_marks(partitions, now=now, horizon=horizon),
                               now=now, horizon=horizon)
    idle = [r for r in ledger.idle_rules(now=now, horizon_seconds=horizon, owned=_owns)
            if not (r in _Shared.locks and _Shared.locks[r].locked())]
    for rule_id in idle:
        pending.pop(rule_id, None)
        _Shared.locks.pop(rule_id, None)
    if marks or idle:
        await _tables_written()
        log.info("deliver: forgot %d alert mark(s) and %d idle rule state(s) older than %g days",
                 marks, len(idle), settings.state.alert_horizon_days)


async def _tables_written() -> None:
    await asyncio.gather(fired.written(), pending.written())
