"""The rules topic's wire format, the mirror document and default ids (no services)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.alerts.store import (
    RuleDecodeError,
    decode_rule,
    encode_rule,
    mirror_document,
    rule_id_from_name,
)
from schemas.alerts import AlertRule

SECRET = "s3cr3t-hmac-key-for-tests"
_T0 = datetime(2024, 4, 2, 9, 30, tzinfo=UTC)


def _rule(**overrides: object) -> AlertRule:
    data: dict[str, object] = {
        "id": "lampedusa-landings",
        "name": "Lampedusa landings",
        "query": 'Lampedusa AND (landing OR "reached the island")',
        "channels": [
            {"kind": "webhook", "url": "https://hooks.example.org/in", "secret": SECRET},
            {"kind": "email", "to": ["desk@example.org"]},
        ],
        "created_at": _T0,
        "updated_at": _T0,
    }
    data.update(overrides)
    return AlertRule.model_validate(data)


def test_topic_value_round_trips_with_the_secret() -> None:
    rule = _rule()
    value = encode_rule(rule)
    assert SECRET.encode() in value  # workers sign webhooks with it
    rule_id, decoded = decode_rule(b"lampedusa-landings", value)
    assert rule_id == "lampedusa-landings"
    assert decoded == rule
    assert decoded is not None
    assert decoded.channels[0].secret.get_secret_value() == SECRET  # type: ignore[union-attr]


def test_tombstone_decodes_to_none() -> None:
    assert decode_rule(b"lampedusa-landings", None) == ("lampedusa-landings", None)


def test_bad_records_are_refused() -> None:
    with pytest.raises(RuleDecodeError, match="invalid"):
        decode_rule(b"x", b'{"id": "x"}')
    with pytest.raises(RuleDecodeError, match="invalid"):
        decode_rule(b"x", b"not json")
    with pytest.raises(RuleDecodeError, match="holds rule"):
        decode_rule(b"another-id", encode_rule(_rule()))


def test_mirror_document_masks_secrets() -> None:
    document = mirror_document(_rule())
    assert SECRET not in json.dumps(document)
    assert document["channels"][0]["secret"] == "**********"
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
