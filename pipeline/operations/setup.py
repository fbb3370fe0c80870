"""``newsflow setup``: topics, index templates, first indices and aliases — idempotently.

Everything is created only when missing, so running it again (or from several workers'
start-up scripts at once) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from elasticsearch import BadRequestError, Elasticsearch
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings
from schemas.index import (
    alert_rule_template,
    alert_template,
    article_template,
    dynamic_settings,
)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    big = str(settings.kafka.max_message_bytes)
    return [
        TopicSpec(settings.topics.raw, settings.topics.partitions, {"max.message.bytes": big}),
        TopicSpec(settings.topics.enriched, settings.topics.partitions, {"max.message.bytes": big}),
        TopicSpec(
            settings.topics.deadletter, 1,
            {"max.message.bytes": str(2 * settings.kafka.max_message_bytes)},
        ),
        TopicSpec(
            settings.topics.alert_rules,
            1,
            {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
        ),
        TopicSpec(settings.topics.alerts, settings.topics.partitions, {}),
        TopicSpec(settings.topics.dedup, 1, {"max.message.bytes": big}),
        # Feed subscriptions and state: last value per key; partitions split the feeds
        # between followers.
        TopicSpec(
            settings.topics.feeds,
            settings.topics.partitions,
            {"cleanup.policy": "compact", "min.compaction.lag.ms": "0",
             "max.message.bytes": str(4 * 1024 * 1024)},
        ),
    ]


def create_topics(settings: Settings) -> list[str]:
    """Create missing topics; returns the names created."""
    admin = KafkaAdminClient(**client_kwargs(settings), client_id="newsflow-setup")
    try:
        existing = set(admin.list_topics())
        missing = [spec for spec in topic_specs(settings) if spec.name not in existing]
        created = []
        for spec in missing:
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            spec.name,
                            num_partitions=spec.partitions,
                            replication_factor=settings.topics.replication,
                            topic_configs=spec.config,
                        )
                    ]
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another process won the race
        return created
    finally:
        admin.close()


_TEMPLATES: dict[str, Callable[..., dict]] = {
    "articles": article_template,
    "alerts": alert_template,
    "alert_rules": alert_rule_template,
}


def install_indices(es: Elasticsearch, settings: Settings) -> list[str]:
    """Install (or update) templates and create the first index behind each alias.

    Templates are always put, so a new field in a model reaches new indices; an existing
    index gets the new fields through a mapping update. Returns what was created.
    """
    created = []
    for setting, build in _TEMPLATES.items():
        alias = getattr(settings.index, setting)
        body = build(alias, shards=settings.es.shards, replicas=settings.es.replicas)
        es.indices.put_index_template(name=alias, body=body)
        if es.indices.exists_alias(name=alias):
            es.indices.put_mapping(index=alias, **body["template"]["mappings"])
            if dynamic_settings(body):  # e.g. the default fields Kibana's search bar uses
                es.indices.put_settings(index=alias, settings=dynamic_settings(body))
            continue
        try:
            es.indices.create(index=f"{alias}-000001", aliases={alias: {"is_write_index": True}})
            created.append(alias)
        except BadRequestError as e:
            if e.error != "resource_already_exists_exception":
                raise
    return created
