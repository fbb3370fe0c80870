"""Articles on the wire (``news.raw``, ``news.enriched``) and in the index.

Field metadata ``json_schema_extra={"es": {...}}`` is what ``schemas.index`` reads to build
the Elasticsearch mapping, so the model stays the one description of an article.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import JsonDict

MAX_BODY_CHARS = 1_000_000
MAX_TITLE_CHARS = 2_000
MAX_METADATA_KEYS = 50
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
# Clocks disagree and publishers schedule articles, but a date years ahead is a bug.
_FUTURE_SLACK = timedelta(days=2)

ArticleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
# Control and zero-width characters: a body made only of these has no text.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2060\ufeff]")

_KEYWORD: JsonDict = {"es": {"type": "keyword"}}
_TEXT: JsonDict = {"es": {"type": "text"}}
_NOT_INDEXED: JsonDict = {"es": {"type": "object", "enabled": False}}


def _check_published_at(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value < _EARLIEST:
        raise ValueError("published_at is before 1900")
    if value > datetime.now(UTC) + _FUTURE_SLACK:
        raise ValueError("published_at is in the future")
    return value


class RawArticle(BaseModel):
    """What a publisher puts on ``news.raw``.

    Unknown top-level fields are refused so that a typo (``bdy``) fails loudly instead of
    silently dropping the text; anything a publisher wants to carry along goes in
    ``metadata``.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: ArticleId | None = Field(
        default=None, description="Stable id; when absent it is derived from url or text."
    )
    url: HttpUrl | None = None
    title: Annotated[str, StringConstraints(max_length=MAX_TITLE_CHARS)] | None = None
    body: Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY_CHARS)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    published_at: AwareDatetime | None = Field(
        default=None, description="Timezone-aware publication time (ISO 8601)."
    )
    language: LanguageCode | None = Field(
        default=None, description="ISO 639-1 code if the publisher knows it."
    )
    authors: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=50
    )
    metadata: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, max_length=MAX_METADATA_KEYS
    )

    _published_in_range = field_validator("published_at")(_check_published_at)

    @field_validator("body")
    @classmethod
    def _body_has_text(cls, value: str) -> str:
        if not _INVISIBLE.sub("", value).strip():
            raise ValueError("body has no text")
        return value


class Mention(BaseModel):
    """Character offsets of one mention in the article's ``title`` or ``body``."""

    model_config = ConfigDict(frozen=True)

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    field: Literal["title", "body"] = Field(
        default="body", description="Which text the offsets point into."
    )
    credit: bool = Field(
        default=False,
        description="An agency named in a dateline or a photo credit: the story's source, "
        "not a mention of it (its name goes to agencies, not orgs).",
    )


class Entity(BaseModel):
    """One named entity per canonical name and article, with where it was mentioned."""

    text: str = Field(json_schema_extra=_KEYWORD)
    label: str = Field(
        json_schema_extra=_KEYWORD, description="PERSON, ORG, GPE, LOC, NORP, FAC, EVENT or MISC"
    )
    count: int = Field(ge=1)
    mentions: list[Mention] = Field(default_factory=list, json_schema_extra=_NOT_INDEXED)


class Evidence(BaseModel):
    """A cue that made a tag fire, so an analyst can see why."""

    cue: str
    field: Literal["title", "body"] = "body"
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class TopicTag(BaseModel):
    id: str = Field(json_schema_extra=_KEYWORD, description="Taxonomy id, e.g. border_crossing")
    score: float = Field(ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list, json_schema_extra=_NOT_INDEXED)


class GeoPoint(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Place(BaseModel):
    """A GPE/LOC mention resolved against an offline gazetteer."""

    name: str = Field(json_schema_extra=_KEYWORD)
    country_code: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", json_schema_extra=_KEYWORD
    )
    location: GeoPoint = Field(json_schema_extra={"es": {"type": "geo_point"}})
    geonames_id: int | None = None
    count: int = Field(default=1, ge=1)


class EnrichedArticle(BaseModel):
    """What the enrich stage writes to ``news.enriched`` and the index stores.

    ``_id`` in Elasticsearch is ``id``; re-indexing the same article overwrites it.
    """

    model_config = ConfigDict(extra="forbid")

    id: ArticleId = Field(json_schema_extra=_KEYWORD)
    url: HttpUrl | None = Field(default=None, json_schema_extra=_KEYWORD)
    title: str | None = Field(default=None, json_schema_extra=_TEXT)
    body: str = Field(json_schema_extra=_TEXT, description="Cleaned text; offsets refer to it.")
    source: str | None = Field(default=None, json_schema_extra=_KEYWORD)
    published_at: AwareDatetime = Field(
        description="Publication time, or ingestion time when the publisher gave none."
    )
    ingested_at: AwareDatetime
    language: str = Field(
        json_schema_extra=_KEYWORD, description="Detected ISO 639-1 code, or 'und'."
    )
    authors: list[str] = Field(default_factory=list, json_schema_extra=_KEYWORD)
    metadata: dict[str, Any] = Field(default_factory=dict, json_schema_extra=_NOT_INDEXED)

    entities: list[Entity] = Field(default_factory=list)
    persons: list[str] = Field(default_factory=list, json_schema_extra=_KEYWORD)
    orgs: list[str] = Field(default_factory=list, json_schema_extra=_KEYWORD)
    places: list[str] = Field(default_factory=list, json_schema_extra=_KEYWORD)
    nationalities: list[str] = Field(default_factory=list, json_schema_extra=_KEYWORD)
    groups: list[str] = Field(
        default_factory=list,
        json_schema_extra=_KEYWORD,
        description="Political parties, religions and other groups that are not nationalities.",
    )
    agencies: list[str] = Field(
        default_factory=list,
        json_schema_extra=_KEYWORD,
        description="News agencies credited in datelines and photo credits: who supplied "
        "the story, not who it is about.",
    )
    geo: list[Place] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list, json_schema_extra=_KEYWORD)

    migration_related: bool = False
    tags: list[str] = Field(default_factory=list, json_schema_extra=_KEYWORD)
    topics: list[TopicTag] = Field(default_factory=list)

    story_id: str = Field(json_schema_extra=_KEYWORD, description="Shared by syndicated copies.")
    duplicate_of: str | None = Field(default=None, json_schema_extra=_KEYWORD)

    content_hash: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        json_schema_extra=_KEYWORD,
        description="SHA-256 of the cleaned title and body: equal for exact copies.",
    )
    enrichment_of: str | None = Field(
        default=None,
        json_schema_extra=_KEYWORD,
        description="Set on an exact copy: the id of the article whose enrichment (entities, "
        "places, tags) it reused instead of running NER again.",
    )
