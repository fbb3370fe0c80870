"""Alert rules on the compacted ``news.alert-rules`` topic, mirrored into Elasticsearch.

The topic is the source of truth: every worker replays it at start and follows it, so a
change reaches the stream within seconds without a database.  The key is the rule id,
the value the rule's JSON with secrets masked plus, per channel, ``sealed``: its URL and
webhook secrets encrypted with the ``SecretBox`` key (workers must sign and post with
them; readers of the topic without the key must not), and a tombstone (``None`` value)
deletes.  The Elasticsearch index behind ``settings.index.alert_rules`` is a read-only
mirror for Kibana, with secrets and credential URLs masked and nothing sealed; its
documents carry the topic offset as an external version, so concurrent writers can
never leave an older rule in the mirror.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, ConflictError, Elasticsearch, TransportError
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from pydantic import HttpUrl, SecretStr, ValidationError

from pipeline.alerts.channels.webhook import new_secret
from pipeline.alerts.rules import parse_rule
from pipeline.core.errors import NewsflowError
from pipeline.core.es_client import es_client
from pipeline.core.kafka_client import client_kwargs
from pipeline.core.secretbox import SecretBox
from pipeline.core.settings import Settings
from schemas.alerts import MASK, AlertRule, SlackChannel, WebhookChannel, mask_url

_POLL_MS = 200
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_READ_TIMEOUT_S = 60.0
# A person waits at the CLI: say the broker is down after 10 s, not the client's 30 s.
_BOOTSTRAP_MS = 10_000


class RuleStoreError(NewsflowError, RuntimeError):
    """Kafka or Elasticsearch refused or could not be reached; the message is one line."""


class RuleDecodeError(NewsflowError, ValueError):
    """A record on the rules topic is not a rule (or its key and id disagree)."""


class RuleNotFound(NewsflowError, KeyError):
    """No rule with that id."""


@dataclass(frozen=True, slots=True)
class _Record:
    rule: AlertRule
    offset: int


def encode_rule(rule: AlertRule, box: SecretBox) -> bytes:
    """The topic value: masked, with the channels' secrets sealed by ``box``."""
    return rule.model_dump_json(context={"secret_box": box}).encode()


def decode_rule(
    key: bytes | None, value: bytes | None, box: SecretBox
) -> tuple[str, AlertRule | None]:
    """One record of the rules topic: ``(rule_id, rule)``, or ``(rule_id, None)`` to delete.

    Raises:
        RuleDecodeError: the value is not a valid rule, or its id is not the key.
    """
    if key is None:
        raise RuleDecodeError("record without a key on the rules topic")
    rule_id = key.decode("utf-8", errors="replace")
    if value is None:
        return rule_id, None
    try:
        rule = AlertRule.model_validate_json(value, context={"secret_box": box})
    except ValidationError as e:
        opening = [err for err in e.errors() if "sealed" in err["msg"]]
        why = opening[0]["msg"] if opening else f"{e.error_count()} invalid field(s)"
        raise RuleDecodeError(f"rule {rule_id!r}: {why}") from e
    if rule.id != rule_id:
        raise RuleDecodeError(f"record key {rule_id!r} holds rule {rule.id!r}")
    return rule_id, rule


def load_rules(settings: Settings) -> dict[str, AlertRule]:
    """Every live rule: the topic read from the beginning to its end offsets.

    The last value per key wins and a tombstone deletes, which is what compaction keeps,
    so the answer is the same before and after the log cleaner has run.  Records that do
    not decode are skipped (the worker sends them to the dead-letter topic).
    """
    return {rule_id: record.rule for rule_id, record in _read_topic(settings).items()}


def rule_id_from_name(name: str) -> str:
    """The default id of a rule: its name, ASCII-folded, lowercased, ``-`` between words.

    Raises:
        ValueError: the name has no letter or digit to make an id from.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_name.lower()).strip("-_")[:64].rstrip("-_")
    if not slug:
        raise ValueError(f"cannot make a rule id from the name {name!r}: give one with --id")
    return slug


def mirror_document(rule: AlertRule) -> dict[str, Any]:
    """The Elasticsearch mirror's document: the rule with every secret masked, none sealed."""
    return rule.model_dump(mode="json")


class RuleStore:
    """Writes rules to the topic and the mirror; reads them back from the topic.

    Clients are created on first use (no I/O in the constructor) and reused, so one store
    can serve an API process; ``close()`` releases them.
    """

    def __init__(self, settings: Settings, *, es: Elasticsearch | None = None) -> None:
        self.settings = settings
        self.box = SecretBox.for_settings(settings)
        self._es = es
        self._own_es = es is None
        self._producer: KafkaProducer | None = None

    # --- reading ----------------------------------------------------------------------
    def load_rules(self) -> dict[str, AlertRule]:
        return load_rules(self.settings)

    def get_rule(self, rule_id: str) -> AlertRule:
        rule = self.load_rules().get(rule_id)
        if rule is None:
            raise RuleNotFound(rule_id)
        return rule

    # --- writing ----------------------------------------------------------------------
    def put_rule(self, rule: AlertRule, *, now: datetime | None = None) -> tuple[AlertRule, bool]:
        """Add or replace ``rule`` by id; returns the stored rule and whether it is new.

        Idempotent by id: re-adding keeps the first ``created_at``; a webhook secret sent
        back masked (as read from a listing) keeps the stored secret; a webhook without
        a secret gets a new one (see :func:`generated_secrets` to show it once).

        Raises:
            RuleSyntaxError: the query cannot run as in Elasticsearch.
            RuleStoreError: Kafka did not take the write.
        """
        parse_rule(rule.query, language=rule.language)
        old = self.load_rules().get(rule.id)
        stamp = now or datetime.now(UTC)
        update: dict[str, Any] = {"created_at": stamp, "updated_at": stamp}
        channels = list(rule.channels)
        if old is not None:
            update["created_at"] = old.created_at
            channels = _keep_masked_secrets(rule, old)
        update["channels"] = [_with_a_secret(channel) for channel in channels]
        stored = rule.model_copy(update=update)
        offset = self._send(rule.id, encode_rule(stored, self.box))
        self._mirror(stored, offset)
        return stored, old is None

    def set_enabled(self, rule_id: str, enabled: bool) -> AlertRule:
        rule = self.get_rule(rule_id)
        if rule.enabled == enabled:
            return rule
        update: dict[str, Any] = {"enabled": enabled, "updated_at": datetime.now(UTC)}
        if enabled:
            update["disabled_reason"] = None
        changed = rule.model_copy(update=update)
        self._mirror(changed, self._send(rule_id, encode_rule(changed, self.box)))
        return changed

    def save_disabled(self, rule: AlertRule) -> AlertRule | None:
        """Record that a worker switched ``rule`` off (``enabled`` false, a reason set).

        The switch-off is written onto the rule's current version, and only if that is
        still the query the worker measured and still on: a rule edited or switched off
        meanwhile (by a person, or by another worker) is left alone, so an edit is never
        overwritten by a stale copy and several workers write the decision once or a few
        times, with the same effect.  Returns what was written, or None.

        Raises:
            RuleStoreError: Kafka or Elasticsearch did not take the write.
        """
        if rule.enabled or not rule.disabled_reason:
            raise ValueError(f"rule {rule.id!r} is not a disabled rule with a reason")
        current = self.load_rules().get(rule.id)
        if (
            current is None
            or not current.enabled
            or (current.query, current.language) != (rule.query, rule.language)
        ):
            return None
        off = current.model_copy(update={
            "enabled": False, "disabled_reason": rule.disabled_reason,
            "updated_at": datetime.now(UTC),
        })  # fmt: skip
        self._mirror(off, self._send(rule.id, encode_rule(off, self.box)))
        return off

    def delete_rule(self, rule_id: str) -> bool:
        """Write a tombstone; returns whether the rule existed (a tombstone is sent anyway,
        so a half-deleted rule, e.g. still in the mirror, is cleaned up)."""
        existed = rule_id in self.load_rules()
        offset = self._send(rule_id, None)
        self._unmirror(rule_id, offset)
        return existed

    def sync_mirror(self) -> int:
        """Rewrite the mirror from the topic and drop documents of deleted rules.

        For when the mirror missed writes.  A mirror document deleted by hand cannot be
        re-created for ``index.gc_deletes`` (60 s): its delete holds a higher version.
        """
        records = _read_topic(self.settings)
        for record in records.values():
            self._mirror(record.rule, record.offset)
        es = self._client()
        alias = self.settings.index.alert_rules
        try:
            es.indices.refresh(index=alias)  # see documents others wrote without a refresh
            hits = es.search(index=alias, size=10_000, source=False, query={"match_all": {}})
            for hit in hits["hits"]["hits"]:
                if hit["_id"] not in records:
                    es.options(ignore_status=404).delete(index=alias, id=hit["_id"])
            es.indices.refresh(index=alias)
        except (ApiError, TransportError) as e:
            raise RuleStoreError(f"Elasticsearch mirror {alias!r}: {_one_line(e)}") from e
        return len(records)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
        if self._es is not None and self._own_es:
            self._es.close()
            self._es = None

    # --- private ----------------------------------------------------------------------
    def _send(self, rule_id: str, value: bytes | None) -> int:
        topic = self.settings.topics.alert_rules
        try:
            if self._producer is None:
                self._producer = KafkaProducer(
                    **client_kwargs(self.settings),
                    acks="all",
                    retries=5,
                    client_id="newsflow-rules",
                    bootstrap_timeout_ms=_BOOTSTRAP_MS,
                    max_block_ms=30_000,
                )
            metadata = self._producer.send(topic, key=rule_id.encode(), value=value).get(timeout=30)
        except KafkaError as e:
            raise RuleStoreError(
                f"Kafka at {self.settings.kafka.bootstrap} did not take the rule ({_one_line(e)})"
            ) from e
        return int(metadata.offset)

    def _client(self) -> Elasticsearch:
        if self._es is None:
            self._es = es_client(self.settings, max_retries=1, request_timeout=15.0)
        return self._es

    def _mirror(self, rule: AlertRule, offset: int) -> None:
        es = self._client()
        alias = self.settings.index.alert_rules
        try:
            es.index(
                index=alias,
                id=rule.id,
                document=mirror_document(rule),
                version=offset,
                version_type="external_gte",
                refresh=True,  # a tiny index written rarely: visible at once
            )
        except ConflictError:
            pass  # a later write of this rule is already mirrored
        except (ApiError, TransportError) as e:
            raise RuleStoreError(
                f"rule saved, but the Elasticsearch mirror {alias!r} failed ({_one_line(e)}); "
                "run `newsflow alerts sync`"
            ) from e

    def _unmirror(self, rule_id: str, offset: int) -> None:
        alias = self.settings.index.alert_rules
        try:
            self._client().options(ignore_status=(404, 409)).delete(
                index=alias,
                id=rule_id,
                version=offset,
                version_type="external_gte",
                refresh=True,  # a tiny index written rarely: visible at once
            )
        except (ApiError, TransportError) as e:
            raise RuleStoreError(
                f"rule deleted, but the Elasticsearch mirror {alias!r} failed "
                f"({_one_line(e)}); run `newsflow alerts sync`"
            ) from e


def generated_secrets(sent: AlertRule, stored: AlertRule) -> list[tuple[str, str]]:
    """``(webhook host, secret)`` for each secret the store made up for ``sent``.

    The one moment a generated secret may be shown: the caller prints it once, for the
    receiver's configuration; after that it is only ever shown masked.
    """
    unsigned = {
        str(c.url) for c in sent.channels if isinstance(c, WebhookChannel) and not c.secrets
    }
    return [
        (f"{c.url.scheme}://{c.url.host}", secret.get_secret_value())
        for c in stored.channels
        if isinstance(c, WebhookChannel) and str(c.url) in unsigned
        for secret in c.secrets
    ]


def _with_a_secret(channel: Any) -> Any:
    if isinstance(channel, WebhookChannel) and not channel.secrets:
        return channel.model_copy(update={"secrets": [SecretStr(new_secret())]})
    return channel


def _keep_masked_secrets(new: AlertRule, old: AlertRule) -> list[Any]:
    """Channels of ``new``, with masked URLs and webhook secrets replaced by stored ones.

    A client that read a rule (masked) and sends it back sends the masks: a masked URL
    stands for the stored channel of the same kind whose URL masks to it, and a masked
    secret for that channel's secret at the same position (dropped if there is none).
    """
    channels: list[Any] = []
    for channel in new.channels:
        if isinstance(channel, WebhookChannel | SlackChannel):
            match = _stored_counterpart(channel, old)
            if match is not None:
                channel = channel.model_copy(update={"url": match.url})
        if isinstance(channel, WebhookChannel):
            match = _stored_counterpart(channel, old)
            previous = match.secrets if isinstance(match, WebhookChannel) else []
            kept = [
                (previous[i] if i < len(previous) else None)
                if secret.get_secret_value() == MASK
                else secret
                for i, secret in enumerate(channel.secrets)
            ]
            channel = channel.model_copy(update={"secrets": [s for s in kept if s is not None]})
        channels.append(channel)
    return channels


def _stored_counterpart(
    channel: WebhookChannel | SlackChannel, old: AlertRule
) -> WebhookChannel | SlackChannel | None:
    for stored in old.channels:
        if not isinstance(stored, type(channel)):
            continue
        if str(stored.url) == str(channel.url) or _masked(stored) == str(channel.url):
            return stored
    return None


def _masked(channel: WebhookChannel | SlackChannel) -> str:
    masked = mask_url(channel.url, hide_path=isinstance(channel, SlackChannel))
    return str(HttpUrl(masked))


def _read_topic(settings: Settings) -> dict[str, _Record]:
    topic = settings.topics.alert_rules
    box = SecretBox.for_settings(settings)
    try:
        consumer = KafkaConsumer(
            **client_kwargs(settings),
            enable_auto_commit=False,
            group_id=None,
            client_id="newsflow-rules-reader",
            bootstrap_timeout_ms=_BOOTSTRAP_MS,
        )
    except KafkaError as e:
        raise RuleStoreError(
            f"Kafka at {settings.kafka.bootstrap} is not reachable ({_one_line(e)}); "
            "is the stack up? run `newsflow stack up`"
        ) from e
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise RuleStoreError(f"topic {topic!r} does not exist: run `newsflow setup`")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        ends = consumer.end_offsets(assigned)
        records: dict[str, _Record] = {}
        deadline = time.monotonic() + _READ_TIMEOUT_S
        while any(consumer.position(tp) < ends[tp] for tp in assigned):
            if time.monotonic() > deadline:
                raise RuleStoreError(f"reading {topic!r} did not reach its end offsets")
            for batch in consumer.poll(timeout_ms=_POLL_MS).values():
                for message in batch:
                    _apply(records, message.key, message.value, message.offset, box)
        return records
    except KafkaError as e:
        raise RuleStoreError(f"reading {topic!r} failed ({_one_line(e)})") from e
    finally:
        consumer.close()


def _apply(
    records: dict[str, _Record], key: bytes, value: bytes | None, offset: int, box: SecretBox
) -> None:
    try:
        rule_id, rule = decode_rule(key, value, box)
    except RuleDecodeError:
        return
    if rule is None:
        records.pop(rule_id, None)
    else:
        records[rule_id] = _Record(rule, offset)


def _one_line(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return " ".join(text.split())[:300]
