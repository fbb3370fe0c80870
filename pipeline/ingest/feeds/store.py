"""``news.feeds`` on Kafka: read the whole book, write subscriptions, states, removals.

Every write waits for the broker's acknowledgement (``acks=all``): a subscription that
``feeds add`` reported as added is on the topic, and a follower's state is durable
before it polls that feed again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, KafkaTimeoutError
from pydantic import BaseModel

from pipeline.core.errors import NewsflowError
from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings
from pipeline.ingest.feeds.book import SUB, FeedBook, feed_partition, record_key


class FeedStoreError(NewsflowError):
    """The feeds topic cannot be read or written (broker down, topic missing)."""


def feeds_producer(settings: Settings, *, connect_timeout: float = 10.0) -> KafkaProducer:
    try:
        return KafkaProducer(**client_kwargs(settings), acks="all", enable_idempotence=True,
                             linger_ms=5, max_block_ms=int(connect_timeout * 1000),
                             bootstrap_timeout_ms=int(connect_timeout * 1000))
    except KafkaError as e:
        raise FeedStoreError(_unreachable(settings, e)) from e


def check_topic(settings: Settings) -> None:
    """``FeedStoreError`` unless the feeds topic exists (a follower would wait forever)."""
    try:
        admin = KafkaAdminClient(**client_kwargs(settings), client_id="newsflow-feeds")
    except KafkaError as e:
        raise FeedStoreError(_unreachable(settings, e)) from e
    try:
        if settings.topics.feeds not in set(admin.list_topics()):
            raise FeedStoreError(f"topic {settings.topics.feeds} does not exist: "
                                 "run `newsflow setup`")
    except KafkaError as e:
        raise FeedStoreError(f"could not list topics: {e}") from e
    finally:
        admin.close()


def write(producer: KafkaProducer, settings: Settings, kind: str, ident: str,
          value: BaseModel | None) -> Any:
    """Send one record of feed ``ident`` to its partition; returns the send's future."""
    topic = settings.topics.feeds
    partitions = _partitions(producer, topic)
    payload = value.model_dump_json().encode() if value is not None else None
    return producer.send(topic, key=record_key(kind, ident), value=payload,
                         partition=feed_partition(ident, partitions))


def write_all(settings: Settings,
              records: Sequence[tuple[str, str, BaseModel | None]]) -> None:
    """Write ``(kind, feed id, value or None)`` records and wait for every acknowledgement."""
    producer = feeds_producer(settings)
    try:
        futures = [write(producer, settings, kind, ident, value)
                   for kind, ident, value in records]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)
    except KafkaError as e:
        raise FeedStoreError(f"could not write to {settings.topics.feeds}: {e}") from e
    finally:
        producer.close(timeout=5)


def read_book(settings: Settings, *, timeout: float = 30.0) -> FeedBook:
    """Every subscription and state on the topic, read from the beginning to its end."""
    try:
        consumer = KafkaConsumer(**client_kwargs(settings), group_id=None,
                                 enable_auto_commit=False, client_id="newsflow-feeds-reader")
    except KafkaError as e:
        raise FeedStoreError(_unreachable(settings, e)) from e
    book = FeedBook()
    try:
        ids = consumer.partitions_for_topic(settings.topics.feeds)
        if not ids:
            raise FeedStoreError(f"topic {settings.topics.feeds} does not exist: "
                                 "run `newsflow setup`")
        partitions = [TopicPartition(settings.topics.feeds, p) for p in sorted(ids)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise FeedStoreError(f"reading {settings.topics.feeds} took over {timeout:g}s")
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    book.apply(record.key, record.value)
    except KafkaError as e:
        raise FeedStoreError(f"could not read {settings.topics.feeds}: {e}") from e
    finally:
        consumer.close()
    return book


def is_subscription(key: bytes | None) -> bool:
    return (key or b"").startswith(SUB.encode())


def _partitions(producer: KafkaProducer, topic: str) -> int:
    try:
        found = producer.partitions_for(topic)
    except KafkaTimeoutError as e:
        raise FeedStoreError(f"topic {topic} is not available: run `newsflow setup`") from e
    if not found:
        raise FeedStoreError(f"topic {topic} does not exist: run `newsflow setup`")
    return len(found)


def _unreachable(settings: Settings, error: Exception) -> str:
    return (f"cannot connect to Kafka at {settings.kafka.bootstrap} ({error}): is the stack "
            "up? run `newsflow stack up`")
