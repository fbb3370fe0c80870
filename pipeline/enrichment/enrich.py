"""Turn a batch of ``RawArticle`` into ``EnrichedArticle``: the enrichment steps composed.

Order: id → clean text → language → NER over title and body (batched per language) →
entities → keyword fields → places → topic tags.  Each step is a small function owned by
its own module; this one only composes them and keeps one article's failure from failing
its batch: ``enrich`` returns, per input and in order, either the article or an
``EnrichError``.

Offsets everywhere (entity mentions, tag evidence) refer to the *cleaned* body and title
stored on the ``EnrichedArticle``, never to the publisher's text.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from pipeline.core.settings import Settings
from pipeline.enrichment.entities import article_text, keyword_fields, refine_entities
from pipeline.enrichment.geo import resolve_places
from pipeline.enrichment.language import UNDETERMINED, detect_language
from pipeline.enrichment.nlp import Ner, RawSpan, SpanSource
from pipeline.enrichment.ruler import get_ruler
from pipeline.enrichment.tagging import load_tagger
from pipeline.ingest.ids import article_id as derive_id
from schemas import EnrichedArticle, Entity, RawArticle

# --- cleaning ---------------------------------------------------------------------------

# C0/C1 controls except tab and newline (CR is folded into newline first), zero-width and
# bidirectional formatting characters, BOM, soft hyphen.  They are invisible, break
# tokenisation ("Igl\u200besias" is not "Iglesias") and make keyword alerts miss.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_HSPACE = re.compile(r"[^\S\n]+")  # any whitespace but newline (incl. NBSP and tabs)
_SPACE_AROUND_NEWLINE = re.compile(r" ?\n ?")
_PARAGRAPH_BREAK = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """NFC, without invisible characters, whitespace runs collapsed, paragraphs kept.

    Line breaks survive (single ones as ``\\n``, paragraph breaks as ``\\n\\n``); every other
    run of whitespace becomes one space.  Invisible characters go *before* NFC so that a
    letter and a combining mark they separated compose.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    text = _SPACE_AROUND_NEWLINE.sub("\n", _HSPACE.sub(" ", text))
    return _PARAGRAPH_BREAK.sub("\n\n", text).strip()


def clean_title(title: str | None) -> str | None:
    """A title is one line: ``clean_text`` with line breaks made spaces; ``None`` if empty.

    Also for source and author names: they are keywords, filtered on exactly, and a
    right-to-left override in one displays the name reversed in Kibana.
    """
    if title is None:
        return None
    return " ".join(clean_text(title).split()) or None


def content_hash(title: str | None, body: str) -> str:
    """SHA-256 (hex) of a cleaned title and body: what makes two articles exact copies.

    Everything the enrichment derives (language, entities, places, tags and all their
    offsets) is a function of these two texts, so equal hashes mean equal enrichments.
    """
    digest = hashlib.sha256((title or "").encode())
    digest.update(b"\x00")
    digest.update(body.encode())
    return digest.hexdigest()


def raw_content_hash(raw: RawArticle) -> str | None:
    """``content_hash`` of a raw article's text as ``Enricher`` would clean it; ``None``
    when nothing is left of the body (the enricher dead-letters it)."""
    body = clean_text(raw.body)
    return content_hash(clean_title(raw.title), body) if body else None


# --- composition ------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrichError:
    """Why one article could not be enriched; the caller dead-letters that article only."""

    reason: str  # short and machine-readable: no_id, empty_body, ner_failed, ...
    detail: str  # one human-readable line


EnrichOutcome = EnrichedArticle | EnrichError


@dataclass
class _Prepared:
    raw: RawArticle
    id: str
    title: str | None
    body: str
    language: str
    spans: list[RawSpan] | None = None


class _StepFailed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.error = EnrichError(reason, detail)


def _one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())[:500]


class Enricher:
    """Holds the loaded models and tagger of one process; ``enrich`` is the whole stage.

    Loading takes a few seconds: build one per process and keep it.
    """

    def __init__(
        self,
        *,
        model_en: str,
        model_es: str,
        batch_size: int = 32,
        prefer_publisher_language: bool = False,
        ner: SpanSource | None = None,
    ) -> None:
        """``prefer_publisher_language``: store ``RawArticle.language`` when the publisher
        gave one instead of what was detected (detection runs either way).  ``ner``: spans
        from elsewhere (a benchmark's cache of the model's output) instead of the models."""
        self._ner: SpanSource = ner or Ner({"en": model_en, "es": model_es}, batch_size=batch_size)
        self._tagger = load_tagger()
        get_ruler()  # gazetteer, lexicon and ruler: once per process, not in the first batch
        self._prefer_publisher_language = prefer_publisher_language

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Enricher:
        return cls(
            model_en=settings.enrich.model_en,
            model_es=settings.enrich.model_es,
            batch_size=settings.enrich.batch_size,
            **options,
        )

    def enrich(
        self, raws: Sequence[RawArticle], *, ingested_at: datetime | None = None
    ) -> list[EnrichOutcome]:
        """One outcome per input, in order.  ``ingested_at`` defaults to now."""
        now = ingested_at or datetime.now(UTC)
        staged: list[_Prepared | EnrichError] = []
        for raw in raws:
            try:
                staged.append(self._prepare(raw))
            except _StepFailed as e:
                staged.append(e.error)
            except Exception as e:  # a bug must cost one article, not the batch
                staged.append(EnrichError("enrich_failed", _one_line(e)))
        self._extract_spans([p for p in staged if isinstance(p, _Prepared)])
        outcomes: list[EnrichOutcome] = []
        for item in staged:
            if isinstance(item, EnrichError):
                outcomes.append(item)
            else:
                try:
                    outcomes.append(self._compose(item, now))
                except _StepFailed as e:
                    outcomes.append(e.error)
                except Exception as e:
                    outcomes.append(EnrichError("enrich_failed", _one_line(e)))
        return outcomes

    def _prepare(self, raw: RawArticle) -> _Prepared:
        try:
            article_id = raw.id or derive_id(raw)
        except Exception as e:
            raise _StepFailed("no_id", f"cannot derive an id: {_one_line(e)}") from e
        body = clean_text(raw.body)
        if not body:
            raise _StepFailed("empty_body", "body has no visible text after cleaning")
        title = clean_title(raw.title)
        detected = detect_language(f"{title}\n{body}" if title else body)
        language = raw.language if raw.language and self._prefer_publisher_language else detected
        return _Prepared(raw=raw, id=article_id, title=title, body=body, language=language)

    def _extract_spans(self, items: list[_Prepared]) -> None:
        """NER per language in batches; if a batch fails, one by one to find the culprit."""
        by_language: dict[str, list[_Prepared]] = {}
        for item in items:
            if item.language in self._ner.languages:
                by_language.setdefault(item.language, []).append(item)
            else:
                item.spans = []  # no model for it (or 'und'): no entities, still indexed
        for language, group in by_language.items():
            try:
                for item, spans in zip(
                    group,
                    self._ner.extract([article_text(i.title, i.body) for i in group], language),
                    strict=True,
                ):
                    item.spans = spans
            except Exception:
                for item in group:
                    try:
                        text = article_text(item.title, item.body)
                        item.spans = self._ner.extract([text], language)[0]
                    except Exception:
                        item.spans = None

    def _compose(self, item: _Prepared, ingested_at: datetime) -> EnrichedArticle:
        raw, body = item.raw, item.body
        if item.spans is None:
            raise _StepFailed("ner_failed", "named-entity recognition failed")
        try:
            entities = refine_entities(
                body, item.spans, language=item.language, title=item.title
            )
            fields = keyword_fields(entities)
            places = resolve_places(entities, body=body)
            tags = self._tagger.tag(
                title=item.title,
                body=body,
                language=item.language,
                entities=tagger_entities(entities),
            )
        except Exception as e:
            raise _StepFailed("enrich_step_failed", _one_line(e)) from e
        topics = list(tags.topics)
        try:
            return EnrichedArticle(
                id=item.id,
                url=raw.url,
                title=item.title,
                body=body,
                source=clean_title(raw.source),
                published_at=raw.published_at or ingested_at,
                ingested_at=ingested_at,
                language=item.language or UNDETERMINED,
                authors=[a for a in map(clean_title, raw.authors) if a],
                metadata=dict(raw.metadata),
                entities=entities,
                persons=fields.get("persons", []),
                orgs=fields.get("orgs", []),
                places=fields.get("places", []),
                nationalities=fields.get("nationalities", []),
                groups=fields.get("groups", []),
                agencies=fields.get("agencies", []),
                geo=places,
                countries=sorted({p.country_code for p in places if p.country_code}),
                migration_related=tags.migration_related,
                tags=[t.id for t in topics],
                topics=topics,
                story_id=item.id,  # until dedup assigns shared story ids
                content_hash=content_hash(item.title, body),
            )
        except ValidationError as e:
            raise _StepFailed("invalid_enriched", _one_line(e)) from e


def tagger_entities(entities: list[Entity]) -> list[Entity]:
    """The entities as the tagger reads them: mentions with offsets into the body, and
    not the agencies of datelines and credits (they say nothing of the story)."""
    out = []
    for e in entities:
        mentions = [m for m in e.mentions if m.field == "body" and not m.credit]
        if len(mentions) == len(e.mentions):
            out.append(e)
        elif mentions:
            out.append(e.model_copy(update={"mentions": mentions}))
    return out
