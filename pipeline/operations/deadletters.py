"""Read the dead-letter topic and replay letters after a fix.

Replay puts the *original bytes* back on the topic the failing stage read, so the message
goes through the same path again:

- a letter whose ``topic`` is one of this deployment's stage inputs (raw, dedup, enriched,
  alerts) goes back to that topic — an index-stage letter carries an ``EnrichedArticle``,
  which ``news.raw`` would refuse as an unknown shape;
- otherwise by stage: validate, enrich, index and publish → ``news.raw``; deliver →
  ``news.alerts``.

Keys are the letter's key (the article id), except on the alerts topic, which is keyed by
rule id (read from the ``Alert`` payload).  Re-running is safe for the index: an article's
``_id`` is its id, so a replayed article overwrites itself; an alert's id is fixed per rule
and story.  The dead-letter topic is append-only: replaying does not remove letters, and a
letter that fails again comes back as a new one.

Any message on the topic can be listed: one that is not ``DeadLetter`` JSON is counted as
unreadable, and a letter whose payload is not valid base64 is shown without one.  Replay
skips (and reports) what it cannot send — no payload, no route — and sends the rest.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections import Counter
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError
from pydantic import ValidationError

from pipeline.core.errors import NewsflowError
from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings
from schemas import Alert, DeadLetter


class DeadLetterError(NewsflowError):
    """The dead-letter topic could not be read or written; the message is one line."""


@dataclass(frozen=True)
class StoredLetter:
    """A dead letter and where it sits on the dead-letter topic."""

    partition: int
    offset: int
    letter: DeadLetter


@dataclass(frozen=True)
class Scan:
    letters: list[StoredLetter]
    total: int  # messages on the topic (end - start), whether read or not
    unreadable: int  # values on the topic that are not DeadLetter JSON


@dataclass(frozen=True)
class Replayed:
    letter: StoredLetter
    topic: str
    key: bytes | None
    payload: bytes


@dataclass(frozen=True)
class Skipped:
    """A letter replay cannot send, and why (one line)."""

    letter: StoredLetter
    reason: str


@dataclass(frozen=True)
class ReplayPlan:
    send: list[Replayed]
    skipped: list[Skipped]


def payload_of(letter: DeadLetter) -> bytes | None:
    """The original bytes, or None when ``payload_b64`` is not valid base64 (a letter
    written by another tool, or damaged)."""
    try:
        return base64.b64decode(letter.payload_b64, validate=True)
    except (binascii.Error, ValueError):
        return None


def read_letters(settings: Settings, *, last: int | None = None,
                 timeout: float = 30.0, connect_timeout: float = 10.0) -> Scan:
    """Read the dead-letter topic from its start, or only its ``last`` messages per partition.

    Stops at the end offsets seen when it began, so letters arriving meanwhile wait for
    the next call instead of keeping it reading.
    """
    try:
        consumer = KafkaConsumer(
            **client_kwargs(settings), group_id=None, enable_auto_commit=False,
            fetch_max_bytes=4 * settings.kafka.max_message_bytes,
            max_partition_fetch_bytes=2 * settings.kafka.max_message_bytes + 1024,
            request_timeout_ms=int(max(timeout, 31.0) * 1000),
            bootstrap_timeout_ms=int(connect_timeout * 1000),
        )
    except KafkaError as e:
        raise DeadLetterError(f"Kafka at {settings.kafka.bootstrap} is not reachable: {e}") from e
    try:
        return _scan(consumer, settings.topics.deadletter, last=last, timeout=timeout)
    except KafkaError as e:
        raise DeadLetterError(f"cannot read {settings.topics.deadletter}: {e}") from e
    finally:
        consumer.close()


def _scan(consumer: KafkaConsumer, topic: str, *, last: int | None, timeout: float) -> Scan:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise DeadLetterError(f"topic {topic!r} does not exist (run `newsflow setup`)")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    starts, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
    for tp in tps:
        first = starts[tp] if last is None else max(starts[tp], ends[tp] - last)
        consumer.seek(tp, first)
    pending = {tp for tp in tps if consumer.position(tp) < ends[tp]}
    letters: list[StoredLetter] = []
    unreadable = 0
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise DeadLetterError(f"reading {topic} took longer than {timeout:g}s")
        for tp, records in consumer.poll(timeout_ms=500).items():
            for record in records:
                if record.offset >= ends[tp]:
                    continue
                try:
                    letter = DeadLetter.model_validate_json(record.value or b"")
                except ValidationError:
                    unreadable += 1
                    continue
                letters.append(StoredLetter(tp.partition, record.offset, letter))
        pending = {tp for tp in pending if consumer.position(tp) < ends[tp]}
    total = sum(ends[tp] - starts[tp] for tp in tps)
    return Scan(sorted(letters, key=lambda s: (s.partition, s.offset)), total, unreadable)


def select(letters: Iterable[StoredLetter], *, stage: str | None = None,
           reason: str | None = None, key: str | None = None) -> list[StoredLetter]:
    """The letters matching every filter given (exact match)."""
    return [s for s in letters
            if (stage is None or s.letter.stage == stage)
            and (reason is None or s.letter.reason == reason)
            and (key is None or s.letter.key == key)]


def by_stage_and_reason(letters: Iterable[StoredLetter]) -> Counter[tuple[str, str]]:
    return Counter((s.letter.stage, s.letter.reason) for s in letters)


def replay_target(letter: DeadLetter, settings: Settings) -> tuple[str, bytes | None]:
    """Topic and key to put ``letter``'s original bytes back on (see the module docstring)."""
    inputs = {settings.topics.raw, settings.topics.dedup, settings.topics.enriched,
              settings.topics.alerts}
    if letter.topic in inputs:
        topic = letter.topic
    elif letter.stage == "deliver":
        topic = settings.topics.alerts
    elif letter.stage in ("publish", "validate", "enrich", "index"):
        topic = settings.topics.raw
    else:
        raise DeadLetterError(
            f"no replay route for stage {letter.stage!r} from topic {letter.topic!r}")
    key = letter.key.encode("utf-8") if letter.key is not None else None
    payload = payload_of(letter)
    if topic == settings.topics.alerts and payload is not None:
        # not an Alert: keep the original key; the deliver stage will refuse it again
        with suppress(ValidationError):
            key = Alert.model_validate_json(payload).rule_id.encode("utf-8")
    return topic, key


def plan_replay(letters: Iterable[StoredLetter], settings: Settings) -> ReplayPlan:
    """What a replay sends, and the letters it skips with the reason."""
    send: list[Replayed] = []
    skipped: list[Skipped] = []
    for stored in letters:
        payload = payload_of(stored.letter)
        if payload is None:
            skipped.append(Skipped(stored, "its payload is not valid base64"))
            continue
        try:
            topic, key = replay_target(stored.letter, settings)
        except DeadLetterError as e:
            skipped.append(Skipped(stored, str(e)))
            continue
        send.append(Replayed(stored, topic, key, payload))
    return ReplayPlan(send, skipped)


def replay(letters: Iterable[StoredLetter], *, settings: Settings,
           dry_run: bool = False, timeout: float = 30.0) -> ReplayPlan:
    """Re-publish each letter's original bytes; returns what was (or would be) sent and
    what was skipped.

    Every send is acknowledged by the broker (``acks="all"``) before this returns.
    """
    result = plan_replay(letters, settings)
    plan = result.send
    if dry_run or not plan:
        return result
    try:
        producer = KafkaProducer(
            **client_kwargs(settings), acks="all", enable_idempotence=True,
            max_request_size=settings.kafka.max_message_bytes,
            bootstrap_timeout_ms=int(timeout * 1000), max_block_ms=int(timeout * 1000),
        )
    except KafkaError as e:
        raise DeadLetterError(f"Kafka at {settings.kafka.bootstrap} is not reachable: {e}") from e
    try:
        futures = [producer.send(item.topic, key=item.key, value=item.payload) for item in plan]
        producer.flush(timeout=timeout)
        for item, future in zip(plan, futures, strict=True):
            try:
                future.get(timeout=0)
            except KafkaTimeoutError as e:
                raise DeadLetterError(
                    f"no acknowledgement for offset {item.letter.offset} in time") from e
            except KafkaError as e:
                raise DeadLetterError(
                    f"broker refused the replay of offset {item.letter.offset}: {e}") from e
    finally:
        producer.close(timeout=5)
    return result
