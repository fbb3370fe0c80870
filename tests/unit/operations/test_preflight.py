"""The start checks the compose test applies to every service (no services needed)."""

from __future__ import annotations

from pathlib import Path

from pipeline.operations.preflight import problems
from tests.support import settings_with


def test_the_api_without_a_key_is_caught_before_it_could_crash_loop(tmp_path: Path) -> None:
    settings = settings_with(home=tmp_path, es__password="x", kafka__security_protocol="PLAINTEXT")
    assert any("no API key" in p for p in problems("api", settings))
    short = settings_with(home=tmp_path, es__password="x", kafka__security_protocol="PLAINTEXT",
                          api__keys=["short"])
    assert any("32 characters" in p for p in problems("api", short))
    good = settings_with(home=tmp_path, es__password="x", kafka__security_protocol="PLAINTEXT",
                         api__keys=["k" * 40])
    assert problems("api", good) == []


def test_sasl_needs_a_user_and_a_password(tmp_path: Path) -> None:
    settings = settings_with(home=tmp_path, es__password="x",
                             kafka__security_protocol="SASL_SSL")
    found = problems("worker", settings)
    assert any("NEWSFLOW_KAFKA_SASL_USERNAME" in p for p in found)
    assert any("NEWSFLOW_KAFKA_SASL_PASSWORD" in p for p in found)
    plaintext = settings_with(home=tmp_path, es__password="x",
                              kafka__security_protocol="PLAINTEXT")
    assert problems("worker", plaintext) == []


def test_the_local_stacks_credentials_are_found_when_nothing_is_set(tmp_path: Path) -> None:
    settings = settings_with(home=tmp_path, es__password="x")
    assert settings.kafka.security_protocol == "SASL_SSL"  # secure by default
    assert settings.kafka_user() is None and problems("worker", settings)
    admin = settings.stack_kafka_password_file("admin")
    admin.parent.mkdir(parents=True)
    admin.write_text("admin-password-from-stack-up\n")
    assert settings.kafka_user() == "admin"
    assert settings.kafka_secret() == "admin-password-from-stack-up"
    assert problems("worker", settings) == []
    # Another of the stack's principals, by name: its own file.
    worker = settings_with(settings, kafka__sasl_username="newsflow-worker")
    assert worker.kafka_secret() is None
    settings.stack_kafka_password_file("newsflow-worker").write_text("worker-password\n")
    assert worker.kafka_secret() == "worker-password"


def test_the_local_ca_is_used_for_loopback_only(tmp_path: Path) -> None:
    settings = settings_with(home=tmp_path)
    assert settings.kafka_ca_file() is None and settings.es_ca_file() is None
    settings.stack_ca_file.parent.mkdir(parents=True)
    settings.stack_ca_file.write_text("-----BEGIN CERTIFICATE-----\n")
    assert settings.kafka_ca_file() == settings.stack_ca_file == settings.es_ca_file()
    remote = settings_with(settings, kafka__bootstrap="kafka.example.org:9093",
                           es__url="https://es.example.org:9200")
    assert remote.kafka_ca_file() is None and remote.es_ca_file() is None
    explicit = settings_with(remote, kafka__ssl_cafile=tmp_path / "corp.pem")
    assert explicit.kafka_ca_file() == tmp_path / "corp.pem"


def test_no_elasticsearch_password_is_named(tmp_path: Path) -> None:
    assert any("NEWSFLOW_ES_PASSWORD" in p for p in problems("setup", settings_with(home=tmp_path)))
