"""The validate stage: bytes from ``news.raw`` → ``RawArticle``, or a reason to dead-letter."""

from __future__ import annotations

import json

from pydantic import ValidationError

from schemas import RawArticle


class InvalidArticle(Exception):
    """Why a message cannot become an article. ``reason`` is a short code for metrics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _reason_for(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "article"
    kind = first["type"]
    if where == "body" and kind == "missing":
        reason = "missing_body"
    elif where == "body" and kind == "string_too_long":
        reason = "body_too_large"
    elif kind == "extra_forbidden":
        reason = "unknown_field"
    else:
        reason = "invalid_field"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return reason, f"{where}: {first['msg']}{more}"


def parse_raw(payload: bytes | None, *, max_bytes: int) -> RawArticle:
    """Decode and validate one message value; raises ``InvalidArticle`` with a reason."""
    if not payload:
        raise InvalidArticle("empty_message", "the message has no value")
    if len(payload) > max_bytes:
        raise InvalidArticle(
            "message_too_large", f"{len(payload):,} bytes exceeds the limit of {max_bytes:,}"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidArticle("invalid_utf8", f"byte {e.start}: {e.reason}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidArticle("invalid_json", f"line {e.lineno} column {e.colno}: {e.msg}") from e
    if not isinstance(data, dict):
        raise InvalidArticle("not_an_object", f"expected a JSON object, got {type(data).__name__}")
    try:
        return RawArticle.model_validate(data)
    except ValidationError as e:
        reason, detail = _reason_for(e)
        raise InvalidArticle(reason, detail) from e
