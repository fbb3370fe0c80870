"""The compose deployment's broker (deploy/compose/kafka/start.sh), run for real on the
host with the local stack's Kafka jars and JDK, on free loopback ports: every listener
SASL_SSL, SCRAM users, deny unless an ACL allows.  The project's own clients
(``client_kwargs``, ``create_topics``, ``RuleStore``) talk to it, so the SASL/TLS code
paths run against a live broker, and the attacks a local client could make are refused.

The ACLs are granted as deploy/compose/kafka/acls.sh grants them (that script needs
``kafka-acls.sh``, which the Maven artefacts of the local stack do not ship).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
)
from kafka.errors import KafkaError

from pipeline.alerts.store import RuleStore, RuleStoreError, load_rules
from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings
from pipeline.operations.setup import create_topics
from pipeline.stack._dist import find_java
from pipeline.stack._layout import layout_for
from pipeline.stack.tls import issue
from schemas import AlertRule
from tests.integration.stack.kafka_roles import (
    assert_reads_nothing_of,
    assert_writes_only_raw,
    wait_visible,
)
from tests.support import ROOT, settings_with

pytestmark = [pytest.mark.stack, pytest.mark.security]

PASSWORDS = {
    "admin": "admin-secret-for-tests-01",
    "newsflow-worker": "worker-secret-for-tests-01",
    "newsflow-api": "api-secret-for-tests-0001",
    "newsflow-publisher": "publisher-secret-for-tests",
    "newsflow-feeds": "feeds-secret-for-tests-0001",
}
ENV_NAMES = {"admin": "KAFKA_ADMIN_PASSWORD", "newsflow-worker": "KAFKA_WORKER_PASSWORD",
             "newsflow-api": "KAFKA_API_PASSWORD",
             "newsflow-publisher": "KAFKA_PUBLISHER_PASSWORD",
             "newsflow-feeds": "KAFKA_FEEDS_PASSWORD"}  # fmt: skip


def _free_ports(n: int) -> list[int]:
    """Free ports below the ephemeral range, where outgoing connections cannot take them
    between this check and the broker's bind."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    found: list[int] = []
    for port in random.sample(range(low // 2, low - 1), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == n:
            return found
    raise RuntimeError("no free ports")


class Broker:
    def __init__(self, tmp: Path, settings: Settings) -> None:
        lay = layout_for(settings)
        java = find_java(settings) / "bin" / "java"
        libs = lay.kafka_home / "libs"
        if not libs.is_dir():
            pytest.skip(f"no local Kafka jars in {libs} (run `newsflow stack up` once)")
        self.internal, self.controller, self.outside = _free_ports(3)
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        for script, main in [("kafka-storage.sh", "kafka.tools.StorageTool"),
                             ("kafka-server-start.sh", "kafka.Kafka")]:  # fmt: skip
            path = bin_dir / script
            path.write_text(f'#!/bin/bash\nexec "{java}" -Xms256m -Xmx256m -cp "{libs}/*" '
                            f'{main} "$@"\n')
            path.chmod(0o700)
        issue(tmp / "certs", {"kafka": ["localhost", "127.0.0.1"]})
        self.ca = tmp / "certs" / "public" / "ca.crt"
        self.conf = tmp / "conf"
        env = {
            **os.environ,
            "CLUSTER_ID": "q1Sh-9_ISia_zwGINzRvyQ",
            "KAFKA_BIN": str(bin_dir), "KAFKA_CERTS": str(tmp / "certs" / "kafka"),
            "KAFKA_DATA": str(tmp / "data"), "KAFKA_CONF_DIR": str(self.conf),
            "KAFKA_ADVERTISED_HOST": "localhost", "KAFKA_BIND": "127.0.0.1",
            "KAFKA_INTERNAL_PORT": str(self.internal),
            "KAFKA_CONTROLLER_PORT": str(self.controller),
            "KAFKA_OUTSIDE_PORT": str(self.outside), "KAFKA_HOST_PORT": str(self.outside),
            **{ENV_NAMES[user]: password for user, password in PASSWORDS.items()},
        }  # fmt: skip
        self.log = (tmp / "kafka.log").open("w")
        self.proc = subprocess.Popen(
            ["bash", str(ROOT / "deploy" / "compose" / "kafka" / "start.sh")],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.bootstrap = f"localhost:{self.internal}"
        self.tmp = tmp

    def settings_for(self, base: Settings, user: str) -> Settings:
        return settings_with(
            base,
            kafka__bootstrap=self.bootstrap, kafka__security_protocol="SASL_SSL",
            kafka__sasl_mechanism="SCRAM-SHA-512", kafka__sasl_username=user,
            kafka__sasl_password=PASSWORDS[user], kafka__ssl_cafile=self.ca,
        )  # fmt: skip

    def wait_ready(self, admin_settings: Settings, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, (self.tmp / "kafka.log").read_text()[-3000:]
            try:
                admin = KafkaAdminClient(**client_kwargs(admin_settings), request_timeout_ms=5000)
                admin.list_topics()
                admin.close()
                return
            except (KafkaError, OSError):
                assert time.monotonic() < deadline, "the secured broker did not start"
                time.sleep(1)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Broker, Settings]]:
    tmp = tmp_path_factory.mktemp("secured-broker")
    base = settings_with(home=tmp / "home", secrets_key_file=tmp / "secrets.key",
                         es__url="http://127.0.0.1:1", es__password="unused")
    running = Broker(tmp, Settings())
    try:
        admin = running.settings_for(base, "admin")
        running.wait_ready(admin)
        create_topics(admin)  # the project's setup, as admin
        _grant_acls(admin)
        wait_visible(running.settings_for(base, "newsflow-api"), admin.topics.alert_rules)
        yield running, base
    finally:
        running.stop()


def _grant_acls(admin: Settings) -> None:
    """What deploy/compose/kafka/acls.sh grants, for the topics of these settings."""
    def acl(user: str, op: ACLOperation, kind: ResourceType, name: str,
            pattern: ACLResourcePatternType = ACLResourcePatternType.LITERAL) -> ACL:
        return ACL(f"User:{user}", "*", op, ACLPermissionType.ALLOW,
                   ResourcePattern(kind, name, pattern))

    topics = admin.topics
    acls = [acl("newsflow-publisher", op, ResourceType.TOPIC, topics.raw)
            for op in (ACLOperation.WRITE, ACLOperation.DESCRIBE)]
    acls += [acl("newsflow-api", op, ResourceType.TOPIC, topics.alert_rules)
             for op in (ACLOperation.READ, ACLOperation.WRITE, ACLOperation.DESCRIBE)]
    acls += [acl("newsflow-worker", op, ResourceType.TOPIC, "news.",
                 ACLResourcePatternType.PREFIXED)
             for op in (ACLOperation.READ, ACLOperation.WRITE, ACLOperation.DESCRIBE)]
    client = KafkaAdminClient(**client_kwargs(admin))
    try:
        result = client.create_acls(acls)
        assert not result["failed"], result["failed"]
    finally:
        client.close()


def _rule(rule_id: str) -> AlertRule:
    now = datetime.now(UTC)
    return AlertRule(id=rule_id, name=rule_id, query="Ceuta", created_at=now, updated_at=now,
                     channels=[{"kind": "webhook", "url": "https://hooks.example.org/x"}])


def test_the_api_user_writes_and_reads_rules_over_sasl_ssl(
    broker: tuple[Broker, Settings],
) -> None:
    running, base = broker
    api = running.settings_for(base, "newsflow-api")
    store = RuleStore(api)
    try:
        # Elasticsearch is unreachable here, so the mirror fails after the topic took it.
        with pytest.raises(RuleStoreError, match="rule saved"):
            store.put_rule(_rule("ceuta"))
    finally:
        store.close()
    [(rule_id, rule)] = load_rules(api).items()
    assert rule_id == "ceuta" and rule.channels[0].secrets  # type: ignore[union-attr]
    raw = KafkaConsumer(**client_kwargs(api), group_id=None, auto_offset_reset="earliest",
                        consumer_timeout_ms=5000)
    raw.subscribe([api.topics.alert_rules])
    values = [m.value for m in raw]
    raw.close()
    secret = rule.channels[0].secrets[0].get_secret_value()  # type: ignore[union-attr]
    assert values and all(secret.encode() not in v for v in values)  # sealed on the wire


def test_the_publisher_may_only_write_news_raw(broker: tuple[Broker, Settings]) -> None:
    running, base = broker
    publisher = running.settings_for(base, "newsflow-publisher")
    assert_writes_only_raw(publisher, b'{"id": "a1", "body": "x"}',
                           [publisher.topics.alert_rules, publisher.topics.enriched],
                           max_block_ms=15_000)


def test_no_login_no_tls_wrong_password_get_nothing(broker: tuple[Broker, Settings]) -> None:
    running, base = broker
    plaintext = settings_with(base, kafka__bootstrap=running.bootstrap,
                              kafka__security_protocol="PLAINTEXT")
    wrong = settings_with(running.settings_for(base, "newsflow-api"),
                          kafka__sasl_password="not-the-password-000")
    for settings in (plaintext, wrong):
        with pytest.raises(KafkaError):
            admin = KafkaAdminClient(**client_kwargs(settings), request_timeout_ms=5000)
            admin.list_topics()
    publisher = running.settings_for(base, "newsflow-publisher")
    producer = KafkaProducer(**client_kwargs(publisher), max_block_ms=15_000)
    producer.send(base.topics.raw, b'{"id": "for-nobody-else"}').get(timeout=30)
    producer.close()
    assert_reads_nothing_of(running.settings_for(base, "newsflow-api"), base.topics.raw)


def test_the_broker_writes_nothing_others_can_read(broker: tuple[Broker, Settings]) -> None:
    running, _ = broker
    for folder in (running.conf, running.tmp / "data"):
        for path in [folder, *folder.rglob("*")]:
            assert not path.stat().st_mode & 0o077, path
