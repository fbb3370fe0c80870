"""What the two secured-broker suites check of a SCRAM principal, in one place: the
local stack's (``test_local_security``) and the compose deployment's broker
(``test_secured_broker``) grant the same roles, so they are held to the same checks."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from pipeline.alerts.store import RuleStoreError, load_rules
from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings


def wait_visible(settings: Settings, topic: str, timeout: float = 60) -> None:
    """ACLs reach the authorizer through the metadata log: wait until they have."""
    deadline = time.monotonic() + timeout
    while True:
        consumer = KafkaConsumer(**client_kwargs(settings), group_id=None)
        try:
            if consumer.partitions_for_topic(topic):
                return
        finally:
            consumer.close()
        assert time.monotonic() < deadline, f"{topic} never became visible to its user"
        time.sleep(0.5)


def assert_writes_only_raw(publisher: Settings, value: bytes, forbidden: Sequence[str],
                           *, max_block_ms: int) -> None:
    """``publisher`` writes ``value`` to the raw topic, is refused on every ``forbidden``
    topic, and cannot read the rules (nor so their sealed secrets)."""
    producer = KafkaProducer(**client_kwargs(publisher), max_block_ms=max_block_ms)
    try:
        producer.send(publisher.topics.raw, value).get(timeout=30)
        for topic in forbidden:
            with pytest.raises(KafkaError):
                producer.send(topic, b"forged").get(timeout=30)
    finally:
        producer.close()
    with pytest.raises(RuleStoreError):
        load_rules(publisher)


def assert_reads_nothing_of(settings: Settings, topic: str) -> None:
    """``settings``' user does not even see ``topic``, and fetching from it yields nothing."""
    consumer = KafkaConsumer(**client_kwargs(settings), group_id=None)
    try:
        assert not consumer.partitions_for_topic(topic)
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        try:
            fetched = [consumer.poll(timeout_ms=1000) for _ in range(5)]
        except KafkaError:  # refused outright: nothing was read either
            fetched = []
        assert not any(fetched)
    finally:
        consumer.close()
