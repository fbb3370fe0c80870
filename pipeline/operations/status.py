"""What ``newsflow status`` reports: services, offsets and lag, dead letters, indices, workers.

Everything comes from the brokers and the cluster, never from a worker, so the answer is
right while no worker runs (the lag then grows, and shows it).  Each part fails on its
own: Elasticsearch down still gives the Kafka half, and the other way round.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError
from pydantic import BaseModel, Field, computed_field

from pipeline.core.es_client import es_client
from pipeline.core.settings import Settings
from pipeline.ingest.feeds import FeedHealth, FeedStoreError, feed_health, read_book
from pipeline.operations.deadletters import DeadLetterError, by_stage_and_reason, read_letters
from pipeline.operations.offsets import admin_client, consumed_topics, group_offsets


class ServiceHealth(BaseModel):
    name: str
    address: str
    reachable: bool
    health: str | None = Field(default=None, description="Cluster health colour (ES).")
    error: str | None = None


class PartitionStatus(BaseModel):
    partition: int
    start: int
    end: int
    committed: int | None
    lag: int


class TopicStatus(BaseModel):
    name: str
    partitions: list[PartitionStatus]

    @computed_field  # type: ignore[prop-decorator]  # a decorated property: python/mypy#1362
    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)


class ReasonCount(BaseModel):
    stage: str
    reason: str
    count: int


class DeadLetterStatus(BaseModel):
    topic: str
    total: int = Field(description="Messages on the topic (end - start offsets).")
    sampled: int = Field(description="How many of the latest were read for the breakdown.")
    by_reason: list[ReasonCount]
    error: str | None = None


class IndexStatus(BaseModel):
    name: str
    docs: int | None
    error: str | None = None


class Worker(BaseModel):
    member_id: str
    client_id: str
    host: str
    partitions: int = Field(description="Partitions of the pipeline topics assigned to it.")


class FeedsStatus(BaseModel):
    topic: str
    count: int = 0
    by_health: dict[str, int] = Field(default_factory=dict)
    feeds: list[FeedHealth] = Field(default_factory=list, description="Every followed feed.")
    error: str | None = None


class StatusReport(BaseModel):
    kafka: ServiceHealth
    elasticsearch: ServiceHealth
    group: str
    group_state: str | None = None
    topics: list[TopicStatus] = Field(default_factory=list)
    dead_letters: DeadLetterStatus | None = None
    indices: list[IndexStatus] = Field(default_factory=list)
    workers: list[Worker] = Field(default_factory=list)
    feeds: FeedsStatus | None = None

    @computed_field  # type: ignore[prop-decorator]  # a decorated property: python/mypy#1362
    @property
    def ok(self) -> bool:
        """Both services reachable and the cluster not red."""
        return (self.kafka.reachable and self.elasticsearch.reachable
                and self.elasticsearch.health != "red")

    @computed_field  # type: ignore[prop-decorator]  # a decorated property: python/mypy#1362
    @property
    def total_lag(self) -> int:
        return sum(t.lag for t in self.topics)


def collect(settings: Settings, *, sample: int = 1000, timeout: float = 5.0) -> StatusReport:
    """Gather the whole report; ``sample`` is how many of the latest dead letters to classify."""
    report = StatusReport(
        kafka=ServiceHealth(name="kafka", address=settings.kafka.bootstrap, reachable=False),
        elasticsearch=_es_health(settings, timeout=timeout),
        group=settings.kafka.consumer_group,
    )
    if report.elasticsearch.reachable:
        report.indices = _index_counts(settings, timeout=timeout)
    try:
        admin = admin_client(settings, timeout=timeout)
    except KafkaError as e:
        report.kafka.error = _one_line(e)
        return report
    try:
        report.kafka.reachable = True
        report.topics = _topics(admin, settings)
        report.group_state, report.workers = _members(admin, settings)
    except KafkaError as e:
        report.kafka.reachable = False
        report.kafka.error = _one_line(e)
        return report
    finally:
        admin.close()
    report.dead_letters = _dead_letters(settings, sample=sample)
    report.feeds = _feeds(settings, timeout=timeout)
    return report


def _feeds(settings: Settings, *, timeout: float) -> FeedsStatus:
    status = FeedsStatus(topic=settings.topics.feeds)
    try:
        book = read_book(settings, timeout=max(timeout, 10.0))
    except FeedStoreError as e:
        status.error = str(e)
        return status
    now = datetime.now(UTC)
    status.feeds = [feed_health(feed, now) for feed in book.feeds()]
    status.count = len(status.feeds)
    status.by_health = dict(Counter(row.health for row in status.feeds))
    return status


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _es_health(settings: Settings, *, timeout: float) -> ServiceHealth:
    health = ServiceHealth(name="elasticsearch", address=settings.es.url, reachable=False)
    try:
        body = _es(settings, timeout).cluster.health()
    except (ApiError, TransportError) as e:
        health.error = _one_line(e)
        return health
    health.reachable = True
    health.health = str(body.get("status"))
    return health


def _es(settings: Settings, timeout: float) -> Elasticsearch:
    return es_client(settings, request_timeout=timeout, max_retries=0)


def _index_counts(settings: Settings, *, timeout: float) -> list[IndexStatus]:
    es = _es(settings, timeout)
    rows = []
    for name in (settings.index.articles, settings.index.alerts):
        try:
            docs = int(es.count(index=name)["count"])
        except (ApiError, TransportError) as e:
            rows.append(IndexStatus(name=name, docs=None, error=_one_line(e)))
        else:
            rows.append(IndexStatus(name=name, docs=docs))
    return rows


def _topics(admin: KafkaAdminClient, settings: Settings) -> list[TopicStatus]:
    rows = group_offsets(admin, settings.kafka.consumer_group, consumed_topics(settings))
    topics: dict[str, list[PartitionStatus]] = {name: [] for name in consumed_topics(settings)}
    for row in rows:
        topics[row.topic].append(PartitionStatus(
            partition=row.partition, start=row.start, end=row.end,
            committed=row.committed, lag=row.lag))
    return [TopicStatus(name=name, partitions=parts) for name, parts in topics.items() if parts]


def _members(admin: KafkaAdminClient, settings: Settings) -> tuple[str | None, list[Worker]]:
    name = settings.kafka.consumer_group
    group = admin.describe_groups([name]).get(name, {})
    mine = set(consumed_topics(settings))
    workers = []
    for member in group.get("members") or []:
        assignment: Any = member.get("member_assignment") or {}
        assigned = assignment.get("assigned_partitions", []) if isinstance(assignment, dict) else []
        workers.append(Worker(
            member_id=member.get("member_id", ""),
            client_id=member.get("client_id", ""),
            host=str(member.get("client_host", "")).lstrip("/"),
            partitions=sum(len(a.get("partitions", [])) for a in assigned
                           if a.get("topic") in mine),
        ))
    return group.get("group_state"), workers


def _dead_letters(settings: Settings, *, sample: int) -> DeadLetterStatus:
    try:
        scan = read_letters(settings, last=sample, connect_timeout=5.0)
    except DeadLetterError as e:
        return DeadLetterStatus(topic=settings.topics.deadletter, total=0, sampled=0,
                                by_reason=[], error=str(e))
    counts = by_stage_and_reason(scan.letters)
    return DeadLetterStatus(
        topic=settings.topics.deadletter,
        total=scan.total,
        sampled=len(scan.letters) + scan.unreadable,
        by_reason=[ReasonCount(stage=stage, reason=reason, count=n)
                   for (stage, reason), n in counts.most_common()],
    )
