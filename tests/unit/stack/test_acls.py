"""The local broker's grants, per role (pure: derived from the settings' names)."""

from __future__ import annotations

from kafka.admin import ACLOperation, ACLResourcePatternType, ResourceType

from pipeline.stack import acls
from tests.support import settings_with

SETTINGS = settings_with(kafka__consumer_group="nf")


def _of(user: str) -> set[tuple[str, str, str, str]]:
    return {(acl.resource_pattern.resource_type.name, acl.resource_pattern.resource_name,
             acl.resource_pattern.pattern_type.name, acl.operation.name)
            for acl in acls.grants(SETTINGS) if acl.principal == f"User:{user}"}


def test_the_publisher_may_only_write_the_raw_topic() -> None:
    assert _of(acls.PUBLISHER) == {("TOPIC", "news.raw", "LITERAL", "WRITE"),
                                   ("TOPIC", "news.raw", "LITERAL", "DESCRIBE")}


def test_the_api_may_only_use_the_rules_topic() -> None:
    assert {name for _, name, _, _ in _of(acls.API)} == {"news.alert-rules"}


def test_the_worker_owns_its_group_and_topics_and_not_the_feeds() -> None:
    worker = _of(acls.WORKER)
    assert ("TOPIC", "nf", "PREFIXED", "ALL") in worker  # Faust's changelogs
    assert ("GROUP", "nf", "PREFIXED", "READ") in worker
    assert not any(name == "news.feeds" for _, name, _, _ in worker)
    assert {name for kind, name, _, _ in worker if kind == "TOPIC"} == {
        "nf", "news.raw", "news.dedup", "news.enriched", "news.deadletter", "news.alert-rules",
        "news.alerts"}


def test_nothing_is_granted_on_every_resource() -> None:
    for acl in acls.grants(SETTINGS):
        pattern = acl.resource_pattern
        assert pattern.resource_name not in ("*", "")
        assert pattern.resource_type != ResourceType.CLUSTER or acl.operation in (
            ACLOperation.DESCRIBE, ACLOperation.DESCRIBE_CONFIGS)
        assert not (pattern.pattern_type == ACLResourcePatternType.PREFIXED
                    and pattern.resource_name in ("", "news."))
        assert acl.operation != ACLOperation.ALL or pattern.resource_name == "nf"
