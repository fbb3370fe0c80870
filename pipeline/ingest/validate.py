"""The validate stage: bytes from ``news.raw`` → ``RawArticle``, or a reason to dead-letter.

Only strict JSON passes: ``NaN``/``Infinity`` literals, numbers beyond a float's range and
repeated keys are refused rather than read the way Python happens to read them (as a
value that serialises to ``null``, or as whichever duplicate came last), so what is
indexed is what every JSON parser would agree the publisher sent.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from pydantic import ValidationError

from pipeline.core.errors import NewsflowError
from schemas import RawArticle

_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number",
               bool: "boolean", type(None): "null"}  # fmt: skip


class InvalidArticle(NewsflowError):
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
    elif where == "body" and kind in {"string_too_short", "value_error"}:
        reason = "empty_body"  # blank, or only control and zero-width characters
    elif kind == "extra_forbidden":
        reason = "unknown_field"
    else:
        reason = "invalid_field"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return reason, f"{where}: {first['msg']}{more}"


def _no_constant(name: str) -> Any:
    raise InvalidArticle("invalid_json", f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidArticle("invalid_json", f"number {text[:40]} is out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) < len(pairs):
        repeated = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise InvalidArticle("invalid_json", f"duplicate key {repeated[:40]!r}")
    return obj


def _loads(text: str) -> Any:
    try:
        return json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as e:
        raise InvalidArticle("invalid_json", f"line {e.lineno} column {e.colno}: {e.msg}") from e
    except RecursionError as e:  # "[[[[…" a hundred thousand deep
        raise InvalidArticle("invalid_json", "arrays or objects nested too deeply") from e


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
    data = _loads(text)
    if not isinstance(data, dict):
        kind = _JSON_TYPES.get(type(data), type(data).__name__)
        raise InvalidArticle("not_an_object", f"expected a JSON object, got {kind}")
    try:
        return RawArticle.model_validate(data)
    except ValidationError as e:
        reason, detail = _reason_for(e)
        raise InvalidArticle(reason, detail) from e
