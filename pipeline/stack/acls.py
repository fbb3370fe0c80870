"""Who may do what on the local broker: one principal per role, nothing unless granted.

The broker runs the StandardAuthorizer with ``allow.everyone.if.no.acl.found=false`` and
``admin`` as its only super user (setup, tests, operators).  The roles match the compose
deployment's (deploy/compose/kafka/acls.sh):

- ``newsflow-publisher`` writes the raw topic, nothing else (``newsflow publish``);
- ``newsflow-api`` reads and writes the rules topic, nothing else (``newsflow api``);
- ``newsflow-feeds`` reads and writes the feeds topic, writes the raw topic, and uses its
  group (``newsflow feeds run``);
- ``newsflow-worker`` reads and writes the pipeline's topics, owns every topic and group
  named after its consumer group (Faust's changelogs and repartition topics), and may
  describe the cluster (``newsflow worker``).

Grants are derived from a ``Settings``' topic names and group, so a test namespace gets the
same rules on its own topics.
"""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
)

from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings

PUBLISHER = "newsflow-publisher"
API = "newsflow-api"
FEEDS = "newsflow-feeds"
WORKER = "newsflow-worker"
PRINCIPALS = (WORKER, API, PUBLISHER, FEEDS)

_RW = (ACLOperation.READ, ACLOperation.WRITE, ACLOperation.DESCRIBE)
_W = (ACLOperation.WRITE, ACLOperation.DESCRIBE)
_GROUP = (ACLOperation.READ, ACLOperation.DESCRIBE)


def _allow(user: str, ops: tuple[ACLOperation, ...], kind: ResourceType, name: str,
           pattern: ACLResourcePatternType = ACLResourcePatternType.LITERAL) -> list[ACL]:
    return [ACL(f"User:{user}", "*", op, ACLPermissionType.ALLOW,
                ResourcePattern(kind, name, pattern)) for op in ops]


def grants(settings: Settings) -> list[ACL]:
    """The ACLs of every role for the topics and consumer group of ``settings``."""
    t, group = settings.topics, settings.kafka.consumer_group
    topic, prefixed = ResourceType.TOPIC, ACLResourcePatternType.PREFIXED
    acls = _allow(PUBLISHER, _W, topic, t.raw)
    acls += _allow(API, _RW, topic, t.alert_rules)
    acls += _allow(FEEDS, _RW, topic, t.feeds) + _allow(FEEDS, _W, topic, t.raw)
    acls += _allow(FEEDS, _GROUP, ResourceType.GROUP, settings.feeds_group)
    for name in (t.raw, t.dedup, t.enriched, t.deadletter, t.alert_rules, t.alerts):
        acls += _allow(WORKER, _RW, topic, name)
    acls += _allow(WORKER, (ACLOperation.ALL,), topic, group, prefixed)
    acls += _allow(WORKER, _GROUP, ResourceType.GROUP, group, prefixed)
    acls += _allow(WORKER, (ACLOperation.DESCRIBE, ACLOperation.DESCRIBE_CONFIGS),
                   ResourceType.CLUSTER, "kafka-cluster")
    return acls


def grant(admin: Settings, acls: list[ACL]) -> None:
    """Create ``acls`` as the admin (creating an existing one changes nothing)."""
    client = KafkaAdminClient(**client_kwargs(admin))
    try:
        result = client.create_acls(acls)
    finally:
        client.close()
    if result["failed"]:
        acl, error = result["failed"][0]
        raise RuntimeError(f"could not grant {acl}: {error}")


def revoke(admin: Settings, acls: list[ACLFilter]) -> None:
    """Delete ``acls`` (a test namespace's, when it is removed)."""
    client = KafkaAdminClient(**client_kwargs(admin))
    try:
        client.delete_acls(acls)
    finally:
        client.close()
