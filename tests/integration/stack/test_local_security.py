"""The local stack is secured the way production is, and every test runs against it.

Kafka takes only SASL_SSL with SCRAM-SHA-512 and grants each role its own topics
(``pipeline.stack.acls``); Elasticsearch takes only HTTPS; clients verify the stack's CA;
nothing the stack writes is readable by other users, Elasticsearch's service user
included.  The role tests grant a namespace the stack's ACLs for its own topics, so
they never touch the shared ``news.*`` topics.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError

from pipeline.alerts.store import RuleStore, load_rules
from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings
from pipeline.stack import acls
from pipeline.stack._layout import layout_for
from pipeline.stack.kafka import admin_settings
from schemas import AlertRule
from tests.integration.stack.kafka_roles import (
    assert_reads_nothing_of,
    assert_writes_only_raw,
    wait_visible,
)
from tests.support import Namespace, article_json, settings_with

pytestmark = [pytest.mark.stack, pytest.mark.security]


def _refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(KafkaError):
        admin = KafkaAdminClient(**kwargs, request_timeout_ms=5000,  # type: ignore[arg-type]
                                 api_version_auto_timeout_ms=5000)
        try:
            admin.list_topics()
        finally:
            admin.close()


def test_kafka_refuses_plaintext_no_login_a_wrong_password_and_an_unknown_server(
    stack: object, settings: Settings,
) -> None:
    good = client_kwargs(settings)
    assert good["security_protocol"] == "SASL_SSL" and good["sasl_mechanism"] == "SCRAM-SHA-512"
    bootstrap = good["bootstrap_servers"]
    _refused({"bootstrap_servers": bootstrap, "security_protocol": "PLAINTEXT"})
    _refused({"bootstrap_servers": bootstrap, "security_protocol": "SSL",
              "ssl_cafile": good["ssl_cafile"]})  # TLS without a login
    _refused({**good, "sasl_plain_password": "not-the-password-0000"})
    # Without the stack's CA the client does not trust the broker (the system store).
    _refused({k: v for k, v in good.items() if k != "ssl_cafile"})


def test_elasticsearch_refuses_http_and_unverified_clients(stack: object,
                                                          settings: Settings) -> None:
    assert settings.es.url.startswith("https://")
    auth = (settings.es.user, settings.es_secret() or "")
    plain = settings.es.url.replace("https://", "http://", 1) + "/_cluster/health"
    with pytest.raises(httpx.TransportError):
        httpx.get(plain, auth=auth, timeout=10)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(settings.es.url + "/_cluster/health", auth=auth, timeout=10)
    ca = settings.es_ca_file()
    assert ca is not None
    health = httpx.get(settings.es.url + "/_cluster/health", auth=auth, verify=str(ca),
                       timeout=10)
    assert health.status_code == 200


@pytest.fixture
def roles(namespace: Namespace) -> Iterator[Namespace]:
    """The stack's per-role ACLs, granted for the namespace's topics and group."""
    admin = admin_settings(namespace.settings)
    granted = acls.grants(namespace.settings)
    acls.grant(admin, granted)
    try:
        wait_visible(_as(namespace.settings, acls.API), namespace.settings.topics.alert_rules)
        yield namespace
    finally:
        acls.revoke(admin, granted)  # type: ignore[arg-type]


def _as(settings: Settings, user: str) -> Settings:
    """The same settings logged in as another of the stack's principals (its password
    comes from the stack's credentials folder, as for any local user)."""
    return settings_with(settings, kafka__sasl_username=user)


def test_the_publisher_writes_the_raw_topic_and_nothing_else(roles: Namespace) -> None:
    publisher = _as(roles.settings, acls.PUBLISHER)
    topics = publisher.topics
    assert_writes_only_raw(publisher, article_json(1),
                           [topics.alert_rules, topics.enriched, topics.alerts],
                           max_block_ms=10_000)


def test_the_api_reaches_the_rules_topic_and_cannot_read_raw_articles(
    roles: Namespace,
) -> None:
    api = _as(roles.settings, acls.API)
    now = datetime.now(UTC)
    store = RuleStore(api)
    try:
        store.put_rule(AlertRule(id="ceuta", name="ceuta", query="Ceuta", created_at=now,
                                 updated_at=now, channels=[{
                                     "kind": "webhook", "url": "https://hooks.example.org/x"}]))
    finally:
        store.close()
    assert list(load_rules(api)) == ["ceuta"]
    roles.produce([(b"a1", article_json(1))])  # as admin: something to steal
    assert_reads_nothing_of(api, api.topics.raw)


def test_a_worker_with_only_its_own_acls_runs_the_pipeline(roles: Namespace) -> None:
    """newsflow-publisher publishes; a worker logged in as newsflow-worker (Faust over
    SASL_SSL) enriches, deduplicates and indexes: its ACLs are enough, and no more."""
    publisher = _as(roles.settings, acls.PUBLISHER)
    producer = KafkaProducer(**client_kwargs(publisher), acks="all")
    for i in range(3):
        producer.send(publisher.topics.raw, key=f"w{i}".encode(), value=article_json(i))
    producer.flush()
    producer.close()
    roles.start_worker(env={"NEWSFLOW_KAFKA_SASL_USERNAME": acls.WORKER})
    assert roles.wait_for_count(3, timeout=240) == 3, roles.logs()
    roles.wait_until_processed()
    assert "Authorization" not in roles.logs()


def _assert_private(top: Path) -> None:
    """No folder or file under ``top`` grants anything to group or others (files that
    vanish during the walk, e.g. a deleted topic's, are skipped)."""
    for root, dirs, files in os.walk(top):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            try:
                mode = os.lstat(name).st_mode
            except FileNotFoundError:
                continue
            if not stat.S_ISLNK(mode):
                assert not mode & 0o077, f"{name} is {oct(mode)}"


def test_nothing_the_stack_writes_is_readable_by_others(stack: object,
                                                       settings: Settings) -> None:
    lay = layout_for(settings)
    _assert_private(lay.stack)
    for path in (lay.credentials, settings.stack_kafka_password_file("admin"), lay.tls):
        assert path.exists(), path
    if not lay.as_service_user:
        return
    # Elasticsearch's service user has a folder of its own, outside any home, 0700 ...
    user = pwd.getpwnam(settings.stack.service_user)
    base = lay.es_base.stat()
    assert (base.st_uid, base.st_mode & 0o777) == (user.pw_uid, 0o700)
    assert not lay.es_base.resolve().is_relative_to(Path(pwd.getpwuid(os.getuid()).pw_dir))
    for folder in (lay.es_config, lay.es_data, lay.es_logs):
        _assert_private(folder)
    # ... and cannot read the stack's secrets.
    done = subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                           "--clear-groups", "cat", str(lay.password_file)],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "Permission denied" in done.stderr


def test_settings_reach_the_secured_stack_with_no_configuration(stack: object,
                                                                tmp_path: Path) -> None:
    """A process with no NEWSFLOW_* but the home logs in as the stack's admin over TLS."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEWSFLOW_") or k in ("NEWSFLOW_HOME",)}
    for key in ("NEWSFLOW_KAFKA_BOOTSTRAP", "NEWSFLOW_ES_URL",
                "NEWSFLOW_STACK_KAFKA_CONTROLLER_PORT", "NEWSFLOW_STACK_ES_TRANSPORT_PORT"):
        if key in os.environ:  # a stack on other ports (a developer's second stack)
            env[key] = os.environ[key]
    code = ("import json; from pipeline.core.settings import Settings; "
            "from pipeline.core.kafka_client import client_kwargs; "
            "from pipeline.core.es_client import es_client; s = Settings(); "
            "from kafka import KafkaAdminClient; a = KafkaAdminClient(**client_kwargs(s)); "
            "a.list_topics(); a.close(); "
            "print(json.dumps([s.kafka_user(), s.kafka.security_protocol, "
            "es_client(s).security.authenticate()['username']]))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == ["admin", "SASL_SSL", "elastic"]
