"""One input record (a mapping from any format) → ``RawArticle``.

Every format ends here, so the rules are the same everywhere: a few common aliases are
accepted (``text``/``content`` for ``body``, ``link`` for ``url`` …), fields ``RawArticle``
does not know go into ``metadata`` instead of failing the record, and dates become
timezone-aware.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import ValidationError

from pipeline.core.errors import NewsflowError
from schemas import RawArticle

# Alias → RawArticle field.  An alias is used only when the field itself is absent; else the
# alias is kept in metadata like any other extra field.
_ALIASES: dict[str, str] = {
    "text": "body",
    "content": "body",
    "link": "url",
    "headline": "title",
    "date": "published_at",
    "published": "published_at",
    "pubdate": "published_at",
    "publication_date": "published_at",
    "author": "authors",
    "lang": "language",
}
_FIELDS = frozenset(RawArticle.model_fields)
# Epoch numbers above this are milliseconds (year 2286 in seconds).
_EPOCH_MS_THRESHOLD = 10_000_000_000


class RecordError(NewsflowError, ValueError):
    """A record that cannot become a ``RawArticle``; the message is one line for humans."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """An article read from ``origin`` (``file.jsonl:3``, ``feed.xml[2]``, ``-``)."""

    origin: str
    article: RawArticle


@dataclass(frozen=True, slots=True)
class Rejected:
    """Something at ``origin`` that is not an article, and why, in one line."""

    origin: str
    reason: str


Item = Parsed | Rejected


def parse_record(origin: str, record: Any) -> Item:
    """``to_raw_article`` for one record, its failure turned into a ``Rejected``."""
    try:
        return Parsed(origin, to_raw_article(record))
    except RecordError as e:
        return Rejected(origin, str(e))


def to_raw_article(record: Mapping[str, Any]) -> RawArticle:
    """Map one record to a validated ``RawArticle`` or raise ``RecordError`` saying why."""
    if not isinstance(record, Mapping):
        raise RecordError(f"expected an article object, got {type(record).__name__}")
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in record.items():
        name = key if key in _FIELDS else _ALIASES.get(str(key).lower())
        if name is None or name in fields or (name != key and name in record):
            extra[str(key)] = value
        else:
            fields[name] = value
    metadata = fields.pop("metadata", None) or {}
    if not isinstance(metadata, Mapping):
        raise RecordError("metadata must be an object")
    metadata = dict(metadata)
    for key, value in extra.items():
        metadata.setdefault(key, _scalar(value))
    fields["metadata"] = {key: _scalar(value) for key, value in metadata.items()}
    if "published_at" in fields:
        fields["published_at"] = to_aware_datetime(fields["published_at"])
    if isinstance(fields.get("authors"), str):
        fields["authors"] = [fields["authors"]]
    try:
        return RawArticle.model_validate(fields)
    except ValidationError as e:
        raise RecordError(_summarise(e)) from e


def to_aware_datetime(value: Any) -> datetime | None:
    """A publication time as an aware datetime; naive times are taken to be UTC.

    Accepts ``datetime``, ISO 8601 (``2024-03-02``, ``…T10:00:00Z``, ``…+01:00``), RFC 2822
    as in RSS (``Sat, 02 Mar 2024 10:00:00 GMT``) and Unix epoch seconds or milliseconds.
    Publishers often omit the zone; UTC is the least surprising guess and is at most a
    day off.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"published_at: not a date: {value!r}")
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > _EPOCH_MS_THRESHOLD else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = _parse_date_text(value.strip())
    else:
        raise RecordError(f"published_at: not a date: {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _parse_date_text(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError) as e:
        raise RecordError(f"published_at: not a date: {text[:40]!r}") from e


def _scalar(value: Any) -> str | int | float | bool | None:
    """Metadata holds scalars only; a list or object is kept as its JSON text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def _summarise(error: ValidationError) -> str:
    """Pydantic's report squeezed to one line: ``field: message; field: message``."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "article"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
