"""Follow the compacted rules topic from its beginning, forever, in a thread.

Every worker needs *all* rules, so this is not a consumer-group member (a group would
split the topic's partitions between workers): it assigns itself every partition, reads
from the beginning and keeps polling.  Records go to a callback in topic order; a second
callback says once that the records present at start have all been delivered, so a
worker can hold back matching until it knows every rule that existed when it started.
The callback is expected to apply each record on its own (``RuleBook.apply_all``); should
it raise anyway, the error is logged and the thread goes on following the topic.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings

log = logging.getLogger("newsflow.rules")

Records = list[tuple[bytes | None, bytes | None]]
_RETRY_MAX_S = 10.0
_FETCH_WAIT_MS = 5_000
_START_POLL_SECONDS = 0.1


def follow_rules(
    settings: Settings,
    *,
    on_records: Callable[[Records], None],
    on_caught_up: Callable[[], None],
    stop: threading.Event,
    poll_seconds: float = 2.0,
) -> None:
    """Block until ``stop`` is set, delivering every record of the rules topic.

    Connection failures are logged and retried with backoff; after one, the topic is
    read again from the beginning (replaying records is harmless: last value wins).
    """
    delay = 0.5
    told = threading.Event()

    def caught_up_once() -> None:
        if not told.is_set():
            told.set()
            on_caught_up()

    while not stop.is_set():
        try:
            _follow_once(
                settings,
                on_records=on_records,
                on_caught_up=caught_up_once,
                stop=stop,
                poll_seconds=poll_seconds,
            )
            return
        except KafkaError as e:
            log.warning("rules topic: %s; reading it again in %.1fs", e, delay)
            stop.wait(delay)
            delay = min(delay * 2, _RETRY_MAX_S)


def _follow_once(
    settings: Settings,
    *,
    on_records: Callable[[Records], None],
    on_caught_up: Callable[[], None],
    stop: threading.Event,
    poll_seconds: float,
) -> None:
    topic = settings.topics.alert_rules
    consumer = KafkaConsumer(
        **client_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        client_id="newsflow-rules-follower",
        # A fetch waits at the broker until a record arrives or this passes: records are
        # not delayed by it, but an idle follower asks twice a second by default.
        fetch_max_wait_ms=_FETCH_WAIT_MS,
    )
    try:
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and not stop.is_set():
            log.warning("rules topic %r does not exist yet (run `newsflow setup`)", topic)
            stop.wait(2.0)
            partitions = consumer.partitions_for_topic(topic)
        if stop.is_set():
            return
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        ends = consumer.end_offsets(assigned)
        pending_start = True
        started = time.monotonic()
        while not stop.is_set():
            # Short polls until the records present at start are in: a worker matches
            # nothing before that, and an empty topic is read to its end by the first one.
            wait = min(poll_seconds, _START_POLL_SECONDS) if pending_start else poll_seconds
            batches = consumer.poll(timeout_ms=int(wait * 1000))
            records = [(m.key, m.value) for batch in batches.values() for m in batch]
            if records:
                try:
                    on_records(records)
                except Exception:  # noqa: BLE001 - the follower must outlive a bad batch
                    log.exception("rules topic: %d record(s) could not be handed over",
                                  len(records))
            if pending_start and all(consumer.position(tp) >= ends[tp] for tp in assigned):
                pending_start = False
                log.info("rules topic read to its end in %.2fs", time.monotonic() - started)
                on_caught_up()
    finally:
        consumer.close()
