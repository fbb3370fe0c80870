"""The validate stage turns every kind of bad message into a reason, never an exception."""

from __future__ import annotations

import json

import pytest

from pipeline.validate import InvalidArticle, parse_raw

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
