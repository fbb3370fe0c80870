"""The start checks the compose test applies to every service (no services needed)."""

from __future__ import annotations

from pathlib import Path

from pipeline.operations.preflight import problems
from tests.support import settings_with


def test_the_api_without_a_key_is_caught_before_it_could_crash_loop(tmp_path: Path) -> None:
    settings = settings_with(home=tmp_path, es__password="x")
    assert any("no API key" in p for p in problems("api", settings))
    short = settings_with(home=tmp_path, es__password="x", api__keys=["short"])
    assert any("32 characters" in p for p in problems("api", short))
    good = settings_with(home=tmp_path, es__password="x", api__keys=["k" * 40])
    assert problems("api", good) == []


def test_sasl_needs_a_user_and_a_password(tmp_path: Path) -> None:
    settings = settings_with(home=tmp_path, es__password="x",
                             kafka__security_protocol="SASL_SSL")
    found = problems("worker", settings)
    assert any("NEWSFLOW_KAFKA_SASL_USERNAME" in p for p in found)
    assert any("NEWSFLOW_KAFKA_SASL_PASSWORD" in p for p in found)
    assert problems("worker", settings_with(home=tmp_path, es__password="x")) == []


def test_no_elasticsearch_password_is_named(tmp_path: Path) -> None:
    assert any("NEWSFLOW_ES_PASSWORD" in p for p in problems("setup", settings_with(home=tmp_path)))
