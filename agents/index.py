"""The index agent: ``news.enriched`` → Elasticsearch, with ``_id`` = article id.

While Elasticsearch is unavailable the batch is retried with backoff and not acknowledged,
so nothing is committed past it; documents Elasticsearch refuses go to the dead letters.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import cache

from elasticsearch import Elasticsearch
from faust.types import EventT, StreamT
from pydantic import ValidationError

from agents.app import app, batches, dead_letter, enriched_topic, send_dead_letters, settings
from pipeline.es_client import es_client
from pipeline.index_writer import IndexUnavailable, index_documents
from pipeline.metrics import (
    IN,
    OUT,
    count,
    dead_lettered,
    observe_batch,
    observe_index_latency,
    timed_bulk,
)
from schemas import EnrichedArticle

log = logging.getLogger("newsflow.index")
_MAX_BACKOFF = 30.0


@cache
def _es() -> Elasticsearch:
    return es_client(settings)


async def _write_until_accepted(articles: list[EnrichedArticle]) -> list:
    delay = 0.5
    while True:
        try:
            with timed_bulk():
                return await asyncio.to_thread(
                    index_documents, _es(), articles, index=settings.index_articles
                )
        except IndexUnavailable as e:
            log.warning("index: %s; retrying %d articles in %.1fs", e, len(articles), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)


async def index_batch(events: list[EventT]) -> None:
    articles: list[EnrichedArticle] = []
    by_id: dict[str, EventT] = {}
    letters = []
    for event in events:
        try:
            article = EnrichedArticle.model_validate_json(event.message.value)
        except ValidationError as e:
            letters.append((event.message.key, dead_letter(
                event, stage="index", reason="invalid_enriched", error=str(e).splitlines()[0])))
            continue
        by_id[article.id] = event
        articles.append(article)
    started = time.perf_counter()
    refused: set[str] = set()
    if articles:
        for rejected in await _write_until_accepted(articles):
            refused.add(rejected.id)
            event = by_id[rejected.id]
            letters.append((event.message.key, dead_letter(
                event, stage="index", reason=f"es_{rejected.status}", error=rejected.reason)))
    observe_batch("index", len(events), time.perf_counter() - started)
    observe_index_latency(by_id[a.id].message.timestamp for a in articles if a.id not in refused)
    if letters:
        await send_dead_letters(letters)
    count("index", IN, len(events))
    count("index", OUT, len(articles) - len(refused))
    dead_lettered("index", (letter.reason for _, letter in letters))
    log.info("index: %d indexed, %d dead-lettered", len(articles) - len(refused), len(letters))


@app.agent(enriched_topic)
async def index(stream: StreamT) -> None:
    async for events in batches(
        stream, settings.index_batch_size, within=settings.index_batch_seconds
    ):
        await index_batch(events)
