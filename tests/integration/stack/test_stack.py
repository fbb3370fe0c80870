"""The local stack against the real services: no mocks anywhere."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from elasticsearch import AuthenticationException, Elasticsearch
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError

from pipeline import stack as local_stack
from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings
from tests.support import settings_with

pytestmark = pytest.mark.stack


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from agents.cli import main; main()",
                           "stack", *args], capture_output=True, text=True, timeout=600)


def test_status_reports_both_services_ready(stack: object) -> None:
    done = _cli("status")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("kafka") and " ready " in line for line in lines)
    assert any(line.startswith("elasticsearch") and " ready " in line for line in lines)


def test_up_again_is_a_noop_with_the_same_pids(stack: object, settings: Settings) -> None:
    before = {row.name: row.pid for row in local_stack.status(settings)}
    done = _cli("up")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already running" in done.stdout
    after = {row.name: row.pid for row in local_stack.status(settings)}
    assert after == before and all(after.values())


def test_produce_and_consume_on_the_real_broker(stack: object, settings: Settings) -> None:
    topic = f"test-stack-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**client_kwargs(settings))
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    try:
        producer = KafkaProducer(**client_kwargs(settings), acks="all")
        producer.send(topic, key=b"k1", value=b"hello newsflow").get(timeout=30)
        producer.close()
        consumer = KafkaConsumer(topic, **client_kwargs(settings),
                                 auto_offset_reset="earliest", consumer_timeout_ms=15000)
        received = [(m.key, m.value) for m in consumer]
        consumer.close()
        assert received == [(b"k1", b"hello newsflow")]
    finally:
        admin.delete_topics([topic])
        admin.close()


def test_elasticsearch_accepts_the_generated_password(stack: object, settings: Settings) -> None:
    secret = settings.es_secret()
    assert secret, "stack up must leave the elastic password in <home>/stack"
    mode = (settings.stack_dir / "elastic.password").stat().st_mode & 0o777
    assert mode == 0o600
    es = Elasticsearch(settings.es.url, basic_auth=(settings.es.user, secret),
                       ca_certs=str(settings.es_ca_file()))
    assert es.cluster.health()["status"] in ("green", "yellow")
    assert es.security.authenticate()["username"] == settings.es.user


def test_elasticsearch_refuses_requests_without_credentials(stack: object,
                                                            settings: Settings) -> None:
    with pytest.raises(AuthenticationException) as refused:
        Elasticsearch(settings.es.url, ca_certs=str(settings.es_ca_file())).cluster.health()
    assert refused.value.meta.status == 401
    wrong = Elasticsearch(settings.es.url, basic_auth=(settings.es.user, "not-the-password"),
                          ca_certs=str(settings.es_ca_file()))
    with pytest.raises(AuthenticationException):
        wrong.cluster.health()


def test_kafka_clients_fail_on_a_port_without_a_broker(stack: object,
                                                      settings: Settings) -> None:
    # A loopback port nothing listens on (cheaper and safer than stopping the shared broker).
    dead = "127.0.0.1:1"
    assert not local_stack.kafka_ready(settings_with(settings, kafka__bootstrap=dead))
    with pytest.raises(KafkaError, match="bootstrap"):
        producer = KafkaProducer(bootstrap_servers=dead, bootstrap_timeout_ms=2000,
                                 request_timeout_ms=2000, max_block_ms=2000)
        producer.send("never", b"lost").get(timeout=5)
