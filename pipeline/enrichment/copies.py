"""Exact copies skip NER: an article whose cleaned title and body were enriched before
reuses that enrichment.

Wire services' stories are republished word for word by many outlets, and feeds re-send
articles; NER is most of the pipeline's CPU, and everything the enrichment derives
(language, entities, places, tags, every offset) is a function of the cleaned title and
body.  So a copy takes the original's enrichment and keeps what is its own (id, url,
source, dates, authors, metadata); ``enrichment_of`` names the article that paid for NER.
Near-copies differ in their text and are enriched as any article.

Where an earlier enrichment is found, checked in this order before NER:

``batch``
    an identical text earlier in the same batch (enriched once, reused by the others);
``recent``
    this worker's last enrichments (bounded; covers the second or two before an article is
    searchable), and the texts an earlier batch of this worker is enriching right now (the
    copy waits for that result instead of paying NER a second time);
``index``
    the articles index, by ``content_hash``: one search per batch, shared by every worker
    and durable across restarts.

Under at-least-once delivery and several workers, two copies enriched at the same moment
may both pay NER; the result is the same either way.  When Elasticsearch cannot answer,
copies are enriched as any article (and lookups pause for a while) rather than waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError
from pydantic import ValidationError

from pipeline.core.es_client import es_client
from pipeline.core.settings import Settings
from pipeline.enrichment.enrich import clean_title, raw_content_hash
from pipeline.enrichment.pool import Enriched, EnrichmentPool, PoolOutcome
from pipeline.ingest.ids import article_id as derive_id
from schemas import EnrichedArticle, RawArticle

log = logging.getLogger("newsflow.enrich")

BATCH, RECENT, INDEX = "batch", "recent", "index"
# After Elasticsearch failed to answer a lookup, how long copies are enriched without asking.
_INDEX_PAUSE_SECONDS = 30.0
_LOOKUP_TIMEOUT_SECONDS = 2.0


def as_copy(
    original: str | bytes | dict[str, Any],
    raw: RawArticle,
    *,
    ingested_at: datetime,
    publisher_language: bool = False,
) -> Enriched | None:
    """``raw`` enriched as ``original`` (an ``EnrichedArticle`` with the same cleaned text,
    as JSON or a dict), or ``None`` when it cannot stand in for ``raw``'s own enrichment.

    ``publisher_language``: the enricher stores the publisher's language code, so the
    enrichment is reused only if the publisher gave the language the original has.
    """
    try:
        article = (EnrichedArticle.model_validate(original) if isinstance(original, dict)
                   else EnrichedArticle.model_validate_json(original))
        article_id = raw.id or derive_id(raw)
    except (ValidationError, ValueError):
        return None
    if publisher_language and raw.language != article.language:
        return None
    # A re-sent article (same id) is not a copy of itself.
    paid_by = article.enrichment_of or (article.id if article.id != article_id else None)
    copy = article.model_copy(update={
        "id": article_id,
        "url": raw.url,
        "source": clean_title(raw.source),
        "published_at": raw.published_at or ingested_at,
        "ingested_at": ingested_at,
        "authors": [a for a in map(clean_title, raw.authors) if a],
        "metadata": dict(raw.metadata),
        "story_id": article_id,  # until dedup groups it with its original
        "duplicate_of": None,
        "enrichment_of": paid_by,
    })
    return Enriched(article_id, copy.model_dump_json())


class RecentEnrichments:
    """The last ``size`` enrichments of this process, by content hash (least recent out)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, article_json: str) -> None:
        if self._size <= 0:
            return
        self._items[key] = article_json
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def find_enriched(es: Elasticsearch, index: str, keys: Sequence[str]) -> dict[str, dict]:
    """One enriched article (its source) per content hash of ``keys`` found in ``index``."""
    if not keys:
        return {}
    response = es.options(request_timeout=_LOOKUP_TIMEOUT_SECONDS, max_retries=0).search(
        index=index,
        query={"terms": {"content_hash": list(keys)}},
        collapse={"field": "content_hash"},
        size=len(keys),
    )
    return {hit["_source"]["content_hash"]: hit["_source"] for hit in response["hits"]["hits"]}


@dataclass
class BatchResult:
    """One outcome per input, in order; ``skipped``: how many skipped NER, by where their
    enrichment was found (``batch``, ``recent``, ``index``)."""

    outcomes: list[PoolOutcome]
    skipped: Counter[str] = field(default_factory=Counter)


class CopyAwareEnrichment:
    """``EnrichmentPool.enrich`` that sends only texts not enriched before to NER."""

    def __init__(
        self,
        pool: EnrichmentPool,
        *,
        es: Elasticsearch | None,
        index: str,
        recent: int = 500,
        reuse: bool = True,
    ) -> None:
        """``es=None``: look only in the batch and this process's recent enrichments;
        ``reuse=False``: every article goes to NER (the pool alone)."""
        self._reuse = reuse
        self._pool = pool
        self._es = es
        self._index = index
        self._recent = RecentEnrichments(recent)
        # texts an unfinished batch of this process sent to NER -> its outcome (None: failed)
        self._in_flight: dict[str, asyncio.Future[PoolOutcome | None]] = {}
        self._publisher_language = pool.prefer_publisher_language
        self._index_paused_until = 0.0

    @classmethod
    def from_settings(cls, pool: EnrichmentPool, settings: Settings, *,
                      es: Elasticsearch | None = None) -> CopyAwareEnrichment:
        """Looks in ``settings.index.articles`` (with ``es``, or a client of its own)
        unless ``settings.enrich.reuse_copies`` is off."""
        on = settings.enrich.reuse_copies
        client = (es or es_client(settings)) if on else None
        return cls(pool, es=client, index=settings.index.articles,
                   recent=settings.enrich.recent_texts, reuse=on)

    async def enrich(
        self, raws: Sequence[RawArticle], *, ingested_at: datetime | None = None
    ) -> BatchResult:
        now = ingested_at or datetime.now(UTC)
        if not self._reuse:
            return BatchResult(await self._pool.enrich(raws, ingested_at=now))
        keys = [_key(raw) for raw in raws]
        known: dict[str, tuple[str, str | dict]] = {}  # key -> (where, original)
        for key in keys:
            if key is not None and key not in known:
                hit = self._recent.get(key)
                if hit is not None:
                    known[key] = (RECENT, hit)
        missing = sorted({k for k in keys if k is not None and k not in known})
        for key, source in (await self._look_up(missing)).items():
            known[key] = (INDEX, source)

        outcomes: list[PoolOutcome | None] = [None] * len(raws)
        skipped: Counter[str] = Counter()
        first: dict[str, int] = {}  # key -> position of the article enriched for it
        to_enrich: list[int] = []
        followers: list[int] = []
        waiting: list[tuple[int, asyncio.Future[PoolOutcome | None]]] = []
        for i, (raw, key) in enumerate(zip(raws, keys, strict=True)):
            if key is not None and key in known:
                where, original = known[key]
                copy = self._copy(original, raw, now)
                if copy is not None:
                    outcomes[i] = copy
                    skipped[where] += 1
                    continue
            if key is not None and key in first:
                followers.append(i)
                continue
            if key is not None and key in self._in_flight:
                waiting.append((i, self._in_flight[key]))
                continue
            if key is not None:
                first[key] = i
            to_enrich.append(i)

        loop = asyncio.get_running_loop()
        mine: dict[str, asyncio.Future[PoolOutcome | None]] = {
            key: loop.create_future() for key in first}
        self._in_flight.update(mine)
        try:
            await self._run(raws, to_enrich, outcomes, now)
        finally:  # also when cancelled: a waiting batch then enriches its copies itself
            for key, future in mine.items():
                self._in_flight.pop(key, None)
                if not future.done():
                    future.set_result(outcomes[first[key]])
        again = []
        for i, future in waiting:
            leader = await future
            copy = self._copy(leader.json, raws[i], now) if isinstance(leader, Enriched) else None
            if copy is None:
                again.append(i)
            else:
                outcomes[i] = copy
                skipped[RECENT] += 1
        for i in followers:
            leader = outcomes[first[keys[i] or ""]]
            copy = self._copy(leader.json, raws[i], now) if isinstance(leader, Enriched) else None
            if copy is None:
                again.append(i)
            else:
                outcomes[i] = copy
                skipped[BATCH] += 1
        await self._run(raws, again, outcomes, now)
        for i in to_enrich:
            outcome, key = outcomes[i], keys[i]
            if isinstance(outcome, Enriched) and key is not None:
                self._recent.put(key, outcome.json)
        done = [o for o in outcomes if o is not None]
        assert len(done) == len(raws), "every article has an outcome"
        return BatchResult(done, skipped)

    def _copy(self, original: str | bytes | dict, raw: RawArticle,
              now: datetime) -> Enriched | None:
        return as_copy(original, raw, ingested_at=now,
                       publisher_language=self._publisher_language)

    async def _run(self, raws: Sequence[RawArticle], positions: list[int],
                   outcomes: list[PoolOutcome | None], now: datetime) -> None:
        """NER for the articles at ``positions``; their outcomes go to the same places."""
        if positions:
            enriched = await self._pool.enrich([raws[i] for i in positions], ingested_at=now)
            for i, outcome in zip(positions, enriched, strict=True):
                outcomes[i] = outcome

    async def _look_up(self, keys: list[str]) -> dict[str, dict]:
        if not keys or self._es is None or time.monotonic() < self._index_paused_until:
            return {}
        try:
            return await asyncio.to_thread(find_enriched, self._es, self._index, keys)
        except (ApiError, TransportError) as e:
            self._index_paused_until = time.monotonic() + _INDEX_PAUSE_SECONDS
            log.warning("enrich: cannot look up copies in %s (%s); enriching every article "
                        "for %.0fs", self._index, e, _INDEX_PAUSE_SECONDS)
            return {}


def _key(raw: RawArticle) -> str | None:
    try:
        return raw_content_hash(raw)
    except Exception:  # noqa: BLE001 - the enricher will report what is wrong with it
        return None
