"""The validate stage turns every kind of bad message into a reason, never an exception."""

from __future__ import annotations

import json

import pytest

from pipeline.ingest.validate import InvalidArticle, parse_raw

LIMIT = 2_000_000


def _ok() -> dict:
    return {"id": "a-1", "body": "Migrants reached Colchane.", "source": "test"}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty_message"),
        (None, "empty_message"),
        (b"{not json", "invalid_json"),
        (b"\xff\xfe\x00junk", "invalid_utf8"),
        (b"[1, 2]", "not_an_object"),
        (b'"just a string"', "not_an_object"),
        (json.dumps({"title": "no body"}).encode(), "missing_body"),
        (json.dumps({"body": "x" * 1_500_000}).encode(), "body_too_large"),
        (json.dumps({"body": 12}).encode(), "invalid_field"),
        (json.dumps({"body": "ok", "extra": 1}).encode(), "unknown_field"),
        (b"x" * (LIMIT + 1), "message_too_large"),
    ],
)
def test_bad_messages_have_reasons(payload: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidArticle) as info:
        parse_raw(payload, max_bytes=LIMIT)
    assert info.value.reason == reason
    assert "\n" not in info.value.detail


def test_good_message_parses() -> None:
    article = parse_raw(json.dumps(_ok()).encode(), max_bytes=LIMIT)
    assert article.id == "a-1"
    assert article.body == "Migrants reached Colchane."


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"[" * 100_000, "nested too deeply"),
        (b'{"body": "x", "metadata": ' + b'{"a": ' * 100_000, "nested too deeply"),
        (b'{"body": "Migrants.", "metadata": {"score": NaN}}', "NaN is not a JSON value"),
        (b'{"body": "Migrants.", "metadata": {"score": -Infinity}}', "-Infinity is not"),
        (b'{"body": "Migrants.", "metadata": {"score": 1e999}}', "1e999 is out of range"),
        (b'{"body": "Migrants.", "body": "Other text."}', "duplicate key 'body'"),
        (b'{"body": "Migrants.", "metadata": {"a": 1, "a": 2}}', "duplicate key 'a'"),
    ],
)
def test_only_strict_json_passes(payload: bytes, detail: str) -> None:
    """Python's json reads these (or overflows the stack on them); no other parser agrees."""
    with pytest.raises(InvalidArticle) as info:
        parse_raw(payload, max_bytes=LIMIT)
    assert info.value.reason == "invalid_json"
    assert detail in info.value.detail


@pytest.mark.parametrize(
    ("payload", "kind"),
    [(b"null", "null"), (b"true", "boolean"), (b"42", "number"), (b"[]", "array")],
)
def test_top_level_values_are_named_as_json_types(payload: bytes, kind: str) -> None:
    with pytest.raises(InvalidArticle) as info:
        parse_raw(payload, max_bytes=LIMIT)
    assert (info.value.reason, info.value.detail) == (
        "not_an_object", f"expected a JSON object, got {kind}")


@pytest.mark.parametrize("body", ["   ", "\u200b\u200c\u200d\ufeff", "\x00\x01\x02\x1f"])
def test_body_without_text_is_empty_body(body: str) -> None:
    with pytest.raises(InvalidArticle) as info:
        parse_raw(json.dumps({"body": body}).encode(), max_bytes=LIMIT)
    assert info.value.reason == "empty_body"


def test_finite_floats_and_big_integers_still_parse() -> None:
    payload = b'{"body": "Migrants.", "metadata": {"score": 0.5, "n": 1e3, "big": 1' + (
        b"0" * 40) + b"}}"
    article = parse_raw(payload, max_bytes=LIMIT)
    assert article.metadata == {"score": 0.5, "n": 1000.0, "big": 10**40}
