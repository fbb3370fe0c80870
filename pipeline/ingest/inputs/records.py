"""One input record (a mapping from any format) → ``RawArticle``.

Every format ends here, so the rules are the same everywhere: a few common aliases are
accepted (``text``/``content`` for ``body``, ``link`` for ``url`` …), fields ``RawArticle``
does not know go into ``metadata`` instead of failing the record, and dates become
timezone-aware.

Keep what is good, drop only what is bad: a field that is invalid on its own (a date out of
range or unreadable, an over-long source, title or author, a URL that is not one, a
language that is not a code) is dropped and the drop is noted in ``metadata``
(``dropped.<field>``: reason and the raw value), so the article still arrives and nobody
loses the evidence.  Text is cleaned the same way (``cleaned.<field>``): control
characters, HTML left in a plain field, entity references nobody expanded.  Only a record
without usable text (or with a bad id, or not an object at all) is rejected.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import ValidationError

from pipeline.core.errors import NewsflowError
from pipeline.ingest.inputs.text_checks import (
    find_unexpanded_entity,
    looks_like_markup,
    remove_control_chars,
    strip_html,
)
from schemas import RawArticle
from schemas.articles import MAX_METADATA_KEYS

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
# Fields an article can lose and still be the article; id, body and metadata cannot go.
_DROPPABLE = frozenset({"url", "title", "source", "published_at", "language", "authors"})
_TEXT_FIELDS = ("title", "body", "source")
DROPPED, CLEANED = "dropped.", "cleaned."
_NOTE_CHARS = 300
_SPACES = re.compile(r"[ \t]{2,}")


class RecordError(NewsflowError, ValueError):
    """A record that cannot become a ``RawArticle``; the message is one line for humans."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """An article read from ``origin`` (``file.jsonl:3``, ``feed.xml[2]``, ``-``)."""

    origin: str
    article: RawArticle

    @property
    def notes(self) -> list[str]:
        """What was dropped or cleaned on the way in, one line each (from ``metadata``)."""
        return [f"{key}: {value}" for key, value in self.article.metadata.items()
                if key.startswith((DROPPED, CLEANED))]


@dataclass(frozen=True, slots=True)
class Rejected:
    """Something at ``origin`` that is not an article, and why, in one line."""

    origin: str
    reason: str


Item = Parsed | Rejected


def parse_record(origin: str, record: Any, *,
                 declared_entities: frozenset[str] = frozenset()) -> Item:
    """``to_raw_article`` for one record, its failure turned into a ``Rejected``."""
    try:
        return Parsed(origin, to_raw_article(record, declared_entities=declared_entities))
    except RecordError as e:
        return Rejected(origin, str(e))
    except RecursionError:
        return Rejected(origin, "nested too deeply (arrays or objects inside each other)")


def to_raw_article(record: Mapping[str, Any], *,
                   declared_entities: frozenset[str] = frozenset()) -> RawArticle:
    """Map one record to a validated ``RawArticle`` or raise ``RecordError`` saying why.

    ``declared_entities``: entity names the document's DTD declares (feeds); references to
    them were never expanded, so they are removed from the text as leftovers.
    """
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
    metadata = {str(key): _scalar(value) for key, value in metadata.items()}
    for key, value in extra.items():
        metadata.setdefault(key, _scalar(value))
    notes: dict[str, str] = {}
    originals = dict(fields)
    if "published_at" in fields:
        try:
            fields["published_at"] = to_aware_datetime(fields["published_at"])
        except RecordError as e:
            reason = str(e).removeprefix("published_at: ").split(": ", 1)[0]
            _drop(fields, notes, "published_at", reason)
    if isinstance(fields.get("authors"), str):
        fields["authors"] = [fields["authors"]]
    _clean_text(fields, notes, declared_entities)
    return _validate(fields, metadata, notes, originals)


def _clean_text(fields: dict[str, Any], notes: dict[str, str],
                declared: frozenset[str]) -> None:
    for name in _TEXT_FIELDS:
        value = fields.get(name)
        if not isinstance(value, str):
            continue
        done = []
        value, controls = remove_control_chars(value)
        if controls:
            done.append(f"removed {controls} control character(s) such as NUL")
        if name == "body" and looks_like_markup(value):
            value = strip_html(value)
            done.append("removed HTML markup")
        entity = find_unexpanded_entity(value, declared)
        if entity:
            value = _without_entities(value, declared)
            done.append(f"removed unexpanded entity reference(s) such as {entity}")
            if not value.strip():
                raise RecordError(f"{name}: nothing but unexpanded entity references "
                                  f"({entity}): the document declares entities it never "
                                  "expands (an entity-expansion bomb?)")
        if done and not value.strip():
            if name == "body":
                raise RecordError(f"body: no text once cleaned ({'; '.join(done)})")
            _drop(fields, notes, name, f"no text once cleaned ({'; '.join(done)})")
        elif done:
            notes[CLEANED + name] = "; ".join(done)
            fields[name] = value
    authors = fields.get("authors")
    if isinstance(authors, list):
        fields["authors"] = [remove_control_chars(a)[0] if isinstance(a, str) else a
                             for a in authors]


def _without_entities(text: str, declared: frozenset[str]) -> str:
    while (entity := find_unexpanded_entity(text, declared)) is not None:
        text = text.replace(entity, "")
    return _SPACES.sub(" ", text).strip()


def _validate(fields: dict[str, Any], metadata: dict[str, Any], notes: dict[str, str],
              originals: dict[str, Any]) -> RawArticle:
    """Validate; drop each droppable field that fails on its own and try again."""
    for _ in range(len(_DROPPABLE) + 1):
        candidate = {**fields, "metadata": _with_notes(metadata, notes)}
        try:
            return RawArticle.model_validate(candidate)
        except ValidationError as e:
            errors = e.errors(include_url=False)
            fatal = [err for err in errors if not err["loc"] or err["loc"][0] not in _DROPPABLE]
            if fatal:
                raise RecordError(_summarise(fatal)) from e
            for err in errors:
                _drop_failed(fields, notes, err, originals)
            if isinstance(fields.get("authors"), list):
                fields["authors"] = [a for a in fields["authors"] if a is not None]
    raise RecordError("record could not be made valid")  # pragma: no cover - bounded above


def _drop_failed(fields: dict[str, Any], notes: dict[str, str], error: Any,
                 originals: dict[str, Any]) -> None:
    name = str(error["loc"][0])
    message = str(error["msg"]).removeprefix("Value error, ")
    if name == "authors" and len(error["loc"]) > 1 and isinstance(fields.get("authors"), list):
        index = error["loc"][1]
        authors = fields["authors"]
        if isinstance(index, int) and index < len(authors) and authors[index] is not None:
            notes[f"{DROPPED}authors[{index}]"] = _note(message, authors[index])
            authors[index] = None  # removed after all errors of this round are seen
            fields["authors"] = authors
            return
    _drop(fields, notes, name, message, raw=originals.get(name))


def _drop(fields: dict[str, Any], notes: dict[str, str], name: str, reason: str, *,
          raw: Any = None) -> None:
    """Remove ``name`` and note why, with the value as the publisher sent it."""
    if name in fields:
        value = fields.pop(name)
        notes[DROPPED + name] = _note(reason, value if raw is None else raw)


def _note(reason: str, raw: Any) -> str:
    text = f"{reason} (was {raw!r})"
    return text if len(text) <= _NOTE_CHARS else text[:_NOTE_CHARS - 1] + "…"


def _with_notes(metadata: dict[str, Any], notes: dict[str, str]) -> dict[str, Any]:
    """Metadata with the notes; when it would exceed the limit, the publisher's extra keys
    beyond it are dropped (and counted) rather than the article."""
    merged = {**metadata, **notes}
    if len(merged) <= MAX_METADATA_KEYS:
        return merged
    keep = MAX_METADATA_KEYS - len(notes) - 1
    kept = dict(list(metadata.items())[:max(keep, 0)])
    kept[DROPPED + "metadata"] = f"{len(metadata) - len(kept)} key(s) over the limit of " \
                                 f"{MAX_METADATA_KEYS}"
    return {**kept, **notes}


def to_aware_datetime(value: Any) -> datetime | None:
    """A publication time as an aware datetime; naive times are taken to be UTC.

    Accepts ``datetime``, ISO 8601 (``2024-03-02``, ``…T10:00:00Z``, ``…+01:00``), RFC 2822
    as in RSS (``Sat, 02 Mar 2024 10:00:00 GMT``) and Unix epoch seconds or milliseconds.
    Publishers often omit the zone; UTC is the least surprising guess and is at most a
    day off.  Anything else (NaN, an epoch beyond year 9999, "last Tuesday") raises
    ``RecordError``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"published_at: not a date: {value!r}")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        value = int(value.strip())
    if isinstance(value, int | float):
        parsed = _from_epoch(value)
    elif isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = _parse_date_text(value.strip())
    else:
        raise RecordError(f"published_at: not a date: {_short(value)}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _from_epoch(value: float) -> datetime:
    if not math.isfinite(value):
        raise RecordError(f"published_at: epoch {value!r} is not a number")
    seconds = value / 1000 if abs(value) > _EPOCH_MS_THRESHOLD else value
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as e:
        raise RecordError(f"published_at: epoch {_short(value)} is out of range") from e


def _parse_date_text(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError) as e:
        raise RecordError(f"published_at: not a date: {_short(text)}") from e


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _scalar(value: Any) -> str | int | float | bool | None:
    """Metadata holds scalars only; a list or object is kept as its JSON text, and a number
    JSON cannot carry (NaN, infinity) as its text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def _summarise(errors: list[Any]) -> str:
    """Pydantic's report squeezed to one line: ``field: message; field: message``."""
    parts = []
    for item in errors:
        where = ".".join(str(p) for p in item["loc"]) or "article"
        message = str(item["msg"]).removeprefix("Value error, ")
        if where == "body" and item["type"] == "missing":
            message = ("missing: nothing to publish (no body, text or content; "
                       "for a feed entry no content, description or title)")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
