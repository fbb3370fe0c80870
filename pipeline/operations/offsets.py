"""Where a consumer group stands on its topics: end offset, committed offset, lag.

Read from the broker (admin API), not from a worker, so the answer is the same whichever
worker or operator asks, and it is right even while no worker runs.  Used by
``newsflow status`` and by the worker's consumer-lag gauge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, OffsetSpec

from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings


@dataclass(frozen=True)
class PartitionOffsets:
    topic: str
    partition: int
    start: int  # first offset still on the log
    end: int  # offset the next message will get
    committed: int | None  # the group's committed offset; None: it never committed here

    @property
    def lag(self) -> int:
        """Messages the group has still to process; from ``start`` when it never committed
        (the workers begin at the earliest offset)."""
        return max(0, self.end - (self.start if self.committed is None else self.committed))


def admin_client(settings: Settings, *, timeout: float = 10.0) -> KafkaAdminClient:
    """Raises ``KafkaTimeoutError`` (a ``KafkaError``) when no broker answers in ``timeout``."""
    return KafkaAdminClient(
        **client_kwargs(settings), client_id="newsflow-status",
        request_timeout_ms=int(timeout * 1000), bootstrap_timeout_ms=int(timeout * 1000),
    )


def topic_partitions(admin: KafkaAdminClient, topics: Sequence[str]) -> list[TopicPartition]:
    """Partitions of the topics that exist; missing topics are left out."""
    tps: list[TopicPartition] = []
    for meta in admin.describe_topics(list(topics)):
        if meta.get("error_code", 0) != 0:
            continue
        tps.extend(TopicPartition(meta["name"], p["partition_index"])
                   for p in meta["partitions"])
    return sorted(tps)


def log_bounds(admin: KafkaAdminClient,
               tps: Sequence[TopicPartition]) -> dict[TopicPartition, tuple[int, int]]:
    """``(start, end)`` offsets of each partition."""
    if not tps:
        return {}
    starts = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in tps})
    ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})
    return {tp: (starts[tp].offset, ends[tp].offset) for tp in tps}


def group_offsets(admin: KafkaAdminClient, group: str,
                  topics: Sequence[str]) -> list[PartitionOffsets]:
    """End and committed offsets of ``group`` on every partition of ``topics``."""
    tps = topic_partitions(admin, topics)
    bounds = log_bounds(admin, tps)
    committed = admin.list_group_offsets({group: None}).get(group, {})
    rows = []
    for tp in tps:
        start, end = bounds[tp]
        meta = committed.get(tp)
        offset = meta.offset if meta is not None and meta.offset >= 0 else None
        rows.append(PartitionOffsets(tp.topic, tp.partition, start, end, offset))
    return rows


def consumed_topics(settings: Settings) -> list[str]:
    """The topics the worker group reads and commits on, in pipeline order.

    (Rules are read whole by every worker, outside the group's offsets: no lag to show.)
    """
    return [settings.topics.raw, settings.topics.dedup, settings.topics.enriched,
            settings.topics.alerts]
