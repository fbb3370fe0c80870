"""The rules topic's wire format, the mirror document and default ids (no services)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.alerts.store import (
    RuleDecodeError,
    decode_rule,
    encode_rule,
    mirror_document,
    rule_id_from_name,
)
from pipeline.core.secretbox import SecretBox
from schemas.alerts import AlertRule

SECRET = "s3cr3t-hmac-key-for-tests-0123456789"
_T0 = datetime(2024, 4, 2, 9, 30, tzinfo=UTC)


def _rule(**overrides: object) -> AlertRule:
    data: dict[str, object] = {
        "id": "lampedusa-landings",
        "name": "Lampedusa landings",
        "query": 'Lampedusa AND (landing OR "reached the island")',
        "channels": [
            {"kind": "webhook", "url": "https://hooks.example.org/in", "secret": SECRET},
            {"kind": "email", "to": ["desk@example.org"]},
            {"kind": "slack", "url": "https://hooks.slack.com/services/T0/B0/XYZ"},
        ],
        "created_at": _T0,
        "updated_at": _T0,
    }
    data.update(overrides)
    return AlertRule.model_validate(data)


@pytest.mark.security
def test_topic_value_round_trips_with_the_secret_sealed(box: SecretBox) -> None:
    rule = _rule()
    value = encode_rule(rule, box)
    assert SECRET.encode() not in value and b"hooks.slack.com/services" not in value
    rule_id, decoded = decode_rule(b"lampedusa-landings", value, box)
    assert rule_id == "lampedusa-landings"
    assert decoded == rule
    assert decoded is not None
    assert decoded.channels[0].secrets[0].get_secret_value() == SECRET  # type: ignore[union-attr]


@pytest.mark.security
def test_a_rule_sealed_with_another_key_does_not_open(box: SecretBox, tmp_path: Path) -> None:
    other = SecretBox(tmp_path / "other" / "secrets.key")
    with pytest.raises(RuleDecodeError, match="does not open"):
        decode_rule(b"lampedusa-landings", encode_rule(_rule(), other), box)


def test_tombstone_decodes_to_none(box: SecretBox) -> None:
    assert decode_rule(b"lampedusa-landings", None, box) == ("lampedusa-landings", None)


def test_bad_records_are_refused(box: SecretBox) -> None:
    with pytest.raises(RuleDecodeError, match="invalid"):
        decode_rule(b"x", b'{"id": "x"}', box)
    with pytest.raises(RuleDecodeError, match="invalid"):
        decode_rule(b"x", b"not json", box)
    with pytest.raises(RuleDecodeError, match="holds rule"):
        decode_rule(b"another-id", encode_rule(_rule(), box), box)


@pytest.mark.security
def test_mirror_document_masks_secrets() -> None:
    document = mirror_document(_rule())
    assert SECRET not in json.dumps(document)
    assert document["channels"][0]["secrets"] == ["**********"]
    assert document["channels"][2]["url"] == "https://hooks.slack.com/***"
    assert "sealed" not in document["channels"][0]
    assert document["channels"][1]["to"] == ["desk@example.org"]
    assert document["created_at"].startswith("2024-04-02T09:30:00")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Lampedusa landings", "lampedusa-landings"),
        ("Detención de migrantes — Tapachula!", "detencion-de-migrantes-tapachula"),
        ("  UK/France: small boats  ", "uk-france-small-boats"),
        ("x" * 80, "x" * 64),
    ],
)
def test_default_id_is_a_slug_of_the_name(name: str, expected: str) -> None:
    slug = rule_id_from_name(name)
    assert slug == expected
    _rule(id=slug)  # a valid RuleId


def test_name_without_letters_needs_an_explicit_id() -> None:
    with pytest.raises(ValueError, match="--id"):
        rule_id_from_name("¿¡ !!")
