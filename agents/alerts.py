"""The match agent: ``news.enriched`` → alert rules → ``news.alerts`` (keyed by rule id).

Every worker holds *every* rule: a thread follows the compacted rules topic outside the
consumer group (``pipeline.alerts.follower``) and hands records to the event loop, which
applies them to one ``RuleBook``.  Matching waits until the topic has been read to the
end offsets it had at start, so a restarted worker never matches with half its rules.
A match becomes an ``Alert`` whose id depends on rule and story only; the deliver agent
drops the repeats (syndicated copies, republished articles, replays).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

from faust.types import EventT, StreamT, TopicT
from pydantic import ValidationError

from agents.app import alerts_topic, app, batches, enriched_topic, send_all, services, settings
from pipeline.alerts.budget import match_with_budget, save_disabled
from pipeline.alerts.follower import Records, follow_rules
from pipeline.alerts.rulebook import alerts_for
from pipeline.core.retry import until_done
from schemas import AlertRule, EnrichedArticle

log = logging.getLogger("newsflow.alerts")

_rules_ready = asyncio.Event()


def _apply(records: Records) -> None:
    rule_book = services().rule_book
    for skipped in rule_book.apply_all(records):
        # Every worker reads every record, so a dead letter here would be written
        # once per worker; the rules store validates rules before writing them.
        log.warning("rules topic: record skipped: %s", skipped)
    log.info("rules: %d record(s) applied, %d rule(s) known", len(records), len(rule_book))


@app.task
async def follow_rule_topic() -> None:
    """Run the rules follower thread for as long as the worker runs."""
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    thread = threading.Thread(
        target=follow_rules,
        name="newsflow-rules-follower",
        daemon=True,
        kwargs={
            "settings": settings,
            "on_records": lambda records: loop.call_soon_threadsafe(_apply, records),
            "on_caught_up": lambda: loop.call_soon_threadsafe(_rules_ready.set),
            "stop": stop,
            "poll_seconds": settings.alerts.rules_poll_seconds,
        },
    )
    thread.start()
    try:
        await asyncio.Event().wait()  # until the worker cancels its tasks
    finally:
        stop.set()


async def rules_ready() -> None:
    """Return once every rule that existed when the worker started is in ``rule_book``."""
    await _rules_ready.wait()


async def wait_for_rule(rule_id: str, *, timeout: float) -> AlertRule | None:
    """The rule, waiting up to ``timeout`` s for this worker's follower to read it.

    Another worker's match stage may see a new rule a moment before this one does.
    """
    await rules_ready()
    rule_book = services().rule_book
    deadline = time.monotonic() + timeout
    rule = rule_book.get(rule_id)
    while rule is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        rule = rule_book.get(rule_id)
    return rule


async def match_batch(events: list[EventT]) -> int:
    """Send one alert per (rule, article) match; returns how many were sent."""
    rule_book = services().rule_book
    if not len(rule_book):
        return 0  # parsing and analysing the articles was a fifth of a worker's own CPU
    now = datetime.now(UTC)
    outputs: list[tuple[TopicT, bytes | None, bytes]] = []
    disabled: list[AlertRule] = []
    for event in events:
        try:
            article = EnrichedArticle.model_validate_json(event.message.value or b"")
        except ValidationError:
            continue  # the index agent dead-letters it; one dead letter per message
        found = match_with_budget(rule_book, article, budget_ms=settings.alerts.rule_budget_ms)
        disabled.extend(found.disabled)
        for alert in alerts_for(found.rules, article, matched_at=now):
            outputs.append((alerts_topic, alert.rule_id.encode(), alert.model_dump_json().encode()))
    if disabled:  # blocking writes to the rules topic and its mirror: off the event loop
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, save_disabled, services().rule_store, disabled)
    await until_done(lambda: send_all(outputs), retry_on=Exception, log=log,
                     what=f"match: sending {len(outputs)} alert(s) failed")
    return len(outputs)


@app.agent(enriched_topic)
async def match(stream: StreamT) -> None:
    await rules_ready()
    async for events in batches(
        stream, settings.alerts.batch_size, within=settings.alerts.batch_seconds
    ):
        sent = await match_batch(events)
        if sent:
            log.info("match: %d article(s), %d alert(s)", len(events), sent)
