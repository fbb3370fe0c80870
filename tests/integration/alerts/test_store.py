"""Rules on a real compacted topic and their Elasticsearch mirror; backtests on a real index.

Each test runs in its own namespace (topics and indices with a random prefix, removed
afterwards) from ``tests/integration/conftest.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import NotFoundError
from kafka import KafkaProducer

from pipeline.alerts.backtest import backtest
from pipeline.alerts.rules import RuleSyntaxError
from pipeline.alerts.store import (
    RuleStore,
    decode_rule,
    encode_rule,
    load_rules,
    mirror_document,
)
from pipeline.core.kafka_client import client_kwargs
from pipeline.core.secretbox import SecretBox
from pipeline.index.writer import index_documents
from schemas.alerts import AlertRule, WebhookChannel
from schemas.articles import EnrichedArticle

pytestmark = pytest.mark.stack

SECRET = "integration-webhook-secret-5b1e0f7a"  # ≥ 32 bytes
SLACK = "https://hooks.slack.com/services/T1/B1/slack-credential-9c"


def _rule(rule_id: str = "tapachula-detentions", **overrides: object) -> AlertRule:
    now = datetime.now(UTC)
    data: dict[str, object] = {
        "id": rule_id,
        "name": "Detentions in Tapachula",
        "query": "Tapachula AND (detained OR detenidos)",
        "channels": [
            {"kind": "webhook", "url": "https://hooks.example.org/nf", "secret": SECRET},
            {"kind": "slack", "url": SLACK},
            {"kind": "email", "to": ["desk@example.org", "night@example.org"]},
        ],
        "mode": "hourly",
        "throttle_seconds": 300,
        "created_at": now,
        "updated_at": now,
    }
    data.update(overrides)
    return AlertRule.model_validate(data)


def _mirrored(namespace, rule_id: str) -> dict | None:  # type: ignore[no-untyped-def]
    try:
        return namespace.es.get(index=namespace.settings.index.alert_rules, id=rule_id)["_source"]
    except NotFoundError:
        return None


def _secret(rule: AlertRule) -> str | None:
    for channel in rule.channels:
        if isinstance(channel, WebhookChannel) and channel.secrets:
            return channel.secrets[0].get_secret_value()
    return None


@pytest.mark.security
def test_add_disable_delete_reach_the_topic_and_the_mirror(namespace) -> None:  # type: ignore[no-untyped-def]
    settings = namespace.settings
    store = RuleStore(settings)
    try:
        stored, created = store.put_rule(_rule())
        assert created
        loaded = load_rules(settings)
        assert list(loaded) == ["tapachula-detentions"]
        assert loaded["tapachula-detentions"] == stored
        assert _secret(loaded["tapachula-detentions"]) == SECRET  # workers can sign

        mirror = _mirrored(namespace, "tapachula-detentions")
        assert mirror is not None
        assert mirror["query"] == stored.query
        assert mirror["channels"][2]["to"] == ["desk@example.org", "night@example.org"]
        assert SECRET not in json.dumps(mirror) and "slack-credential" not in json.dumps(mirror)

        # Re-adding by id updates the rule and keeps its creation time.
        later = datetime.now(UTC) + timedelta(hours=1)
        renamed = _rule(name="Tapachula detentions (ES+EN)", created_at=later, updated_at=later)
        again, created = store.put_rule(renamed)
        assert not created
        assert again.created_at == stored.created_at
        assert again.updated_at > stored.updated_at
        assert load_rules(settings)["tapachula-detentions"].name == "Tapachula detentions (ES+EN)"

        # A rule read back masked and sent again keeps its real secret.
        masked = AlertRule.model_validate(mirror_document(again))
        store.put_rule(masked)
        assert _secret(load_rules(settings)["tapachula-detentions"]) == SECRET
        slack = load_rules(settings)["tapachula-detentions"].channels[1]
        assert str(slack.url) == SLACK  # type: ignore[union-attr]

        disabled = store.set_enabled("tapachula-detentions", False)
        assert disabled.enabled is False
        assert load_rules(settings)["tapachula-detentions"].enabled is False
        assert _mirrored(namespace, "tapachula-detentions")["enabled"] is False  # type: ignore[index]

        store.put_rule(_rule("ceuta-fence", name="Ceuta fence", query="Ceuta AND valla"))
        assert store.delete_rule("tapachula-detentions") is True
        assert list(load_rules(settings)) == ["ceuta-fence"]
        assert _mirrored(namespace, "tapachula-detentions") is None
        assert _mirrored(namespace, "ceuta-fence") is not None
        assert store.delete_rule("tapachula-detentions") is False
    finally:
        store.close()

    # What a worker replaying the topic sees: the last record for the key is a tombstone,
    # and decoding every record in order gives the same rules as load_rules.
    records = namespace.consume(settings.topics.alert_rules, expect=7, timeout=30)
    state: dict[str, AlertRule] = {}
    box = SecretBox.for_settings(settings)
    for record in records:
        assert record.value is None or SECRET.encode() not in record.value  # sealed
        rule_id, rule = decode_rule(record.key, record.value, box)
        if rule is None:
            state.pop(rule_id, None)
        else:
            state[rule_id] = rule
    last = [r for r in records if r.key == b"tapachula-detentions"][-1]
    assert last.value is None
    assert state == load_rules(settings)


def test_invalid_query_is_refused_with_position_and_nothing_is_written(namespace) -> None:  # type: ignore[no-untyped-def]
    store = RuleStore(namespace.settings)
    try:
        with pytest.raises(RuleSyntaxError) as error:
            store.put_rule(_rule(query="Tapachula AND (detained"))
        assert error.value.position == len("Tapachula AND (detained")
        assert load_rules(namespace.settings) == {}
        assert _mirrored(namespace, "tapachula-detentions") is None
    finally:
        store.close()


def test_sync_rebuilds_the_mirror_from_the_topic(namespace) -> None:  # type: ignore[no-untyped-def]
    """The mirror missed writes (Elasticsearch was down): sync puts it right."""
    settings = namespace.settings
    store = RuleStore(settings)
    producer = KafkaProducer(**client_kwargs(settings), acks="all")
    try:
        store.put_rule(_rule())
        # A rule written while the mirror was unreachable, and a deletion it never saw.
        unmirrored = _rule("calais-boats", name="Calais boats", query="Calais AND boat")
        value = encode_rule(unmirrored, store.box)
        producer.send(settings.topics.alert_rules, key=b"calais-boats", value=value)
        producer.send(settings.topics.alert_rules, key=b"tapachula-detentions", value=None)
        producer.flush()
        assert _mirrored(namespace, "calais-boats") is None
        assert _mirrored(namespace, "tapachula-detentions") is not None

        assert store.sync_mirror() == 1
        assert _mirrored(namespace, "tapachula-detentions") is None
        assert _mirrored(namespace, "calais-boats")["query"] == "Calais AND boat"  # type: ignore[index]
    finally:
        producer.close()
        store.close()


def _article(article_id: str, title: str, body: str, age: timedelta, story: str) -> EnrichedArticle:
    now = datetime.now(UTC)
    return EnrichedArticle(
        id=article_id,
        title=title,
        body=body,
        source="nf-test-wire",
        published_at=now - age,
        ingested_at=now,
        language="en",
        story_id=story,
    )


def test_backtest_finds_recent_matches_newest_first(namespace) -> None:  # type: ignore[no-untyped-def]
    settings = namespace.settings
    articles = [
        _article("bt-1", "Families detained near Tapachula", "Police detained 40 people "
                 "at a checkpoint outside Tapachula on Tuesday.", timedelta(days=1), "s-a"),
        _article("bt-2", "Checkpoint arrests (syndicated)", "Police detained 40 people at "
                 "a checkpoint outside Tapachula on Tuesday.", timedelta(hours=20), "s-a"),
        _article("bt-3", "Shelter full in Tapachula", "Volunteers said dozens were detained "
                 "overnight in Tapachula.", timedelta(days=3), "s-b"),
        _article("bt-4", "Old report from Tapachula", "In January, 12 were detained in "
                 "Tapachula.", timedelta(days=10), "s-c"),
        _article("bt-5", "Harvest season in Tapachula", "Coffee growers near Tapachula "
                 "expect a good year.", timedelta(days=2), "s-d"),
    ]  # fmt: skip
    assert index_documents(namespace.es, articles, index=settings.index.articles) == []
    namespace.es.indices.refresh(index=settings.index.articles)

    week = backtest(namespace.es, settings.index.articles, "Tapachula AND detained", days=7)
    assert week.articles == 3
    assert week.stories == 2
    # One match per story, newest first; the story's newest copy stands for it.
    assert [m.id for m in week.matches] == ["bt-2", "bt-3"]
    assert week.matches[0].title == "Checkpoint arrests (syndicated)"
    assert week.matches[0].source == "nf-test-wire"
    assert week.matches[0].copies == 2
    assert week.matches[0].published_at is not None

    fortnight = backtest(namespace.es, settings.index.articles, "Tapachula AND detained", days=14)
    assert fortnight.articles == 4
    assert [m.id for m in fortnight.matches] == ["bt-2", "bt-3", "bt-4"]

    none = backtest(namespace.es, settings.index.articles, "Lampedusa", days=14)
    assert (none.articles, none.stories, none.matches) == (0, 0, [])


def test_a_worker_switch_off_lands_on_the_current_version_only(namespace) -> None:  # type: ignore[no-untyped-def]
    settings = namespace.settings
    store = RuleStore(settings)
    try:
        seen, _ = store.put_rule(_rule())
        reason = "matching took over its budget of 20 ms (31 ms on article 'a1')"
        off = seen.model_copy(update={"enabled": False, "disabled_reason": reason})
        # A person renames the rule after the worker read it: the switch-off keeps the name.
        store.put_rule(_rule(name="Renamed"))
        written = store.save_disabled(off)
        assert written is not None
        stored = load_rules(settings)["tapachula-detentions"]
        assert (stored.enabled, stored.disabled_reason, stored.name) == (False, reason, "Renamed")
        assert _secret(stored) == SECRET
        assert _mirrored(namespace, "tapachula-detentions")["disabled_reason"] == reason  # type: ignore[index]
        # A second worker with the same decision, or a stale copy after the query was
        # edited, writes nothing.
        assert store.save_disabled(off) is None
        store.set_enabled("tapachula-detentions", True)
        store.put_rule(_rule(query="Tapachula AND detenidos"))
        assert store.save_disabled(off) is None
        stored = load_rules(settings)["tapachula-detentions"]
        assert (stored.enabled, stored.disabled_reason) == (True, None)
        assert stored.query == "Tapachula AND detenidos"
    finally:
        store.close()
