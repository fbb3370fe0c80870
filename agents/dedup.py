"""The dedup agent: ``news.dedup`` → story id, duplicate_of → ``news.enriched``.

One serial decision point: ``news.dedup`` and the table have one partition, so whichever
worker holds that partition sees every story recorded so far, and a worker that takes it
over (after a crash or a rebalance) first recovers the table from its changelog.  With tables
on RocksDB the band index lives beside the records, derived from each record as it is written
or read back from the changelog (``agents.state_store``), so a restart with local state reads
nothing proportional to the stories; with tables in memory it is rebuilt from the whole table
after recovery (``pipeline.stories.state``).  The table holds one record
per article (its story, when it was seen, the band keys it added, the first article's
signature); records of stories older than ``dedup_horizon_days`` are deleted by a timer,
which writes tombstones that compaction drops.  Table writes of a batch happen before its
outputs are sent, and Faust flushes the changelog before it commits offsets; a replay after
a crash finds the article's own record and gets the same answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable

from faust.types import EventT, StreamT, TopicT
from pydantic import ValidationError

from agents import state_store
from agents.app import (
    app,
    batches,
    dead_letter,
    dedup_topic,
    enriched_topic,
    send_all,
    send_dead_letters,
    settings,
)
from pipeline.stories.dedup import Fingerprint, fingerprint
from pipeline.stories.state import DiskStoryState, StoryState, index_entries
from schemas import EnrichedArticle

log = logging.getLogger("newsflow.dedup")


def _index_entries(key: bytes, value: bytes) -> Iterable[tuple[bytes, bytes]]:
    # raw bytes as stored: the JSON the changelog holds (see below)
    return index_entries(json.loads(key), json.loads(value))


# JSON keys and values (the default without a faust.Record type), so what a worker recovers
# from the changelog is the same str/list it wrote.
articles_seen = app.Table(
    "dedup-articles", partitions=1, key_type=str, use_partitioner=True,
    help="article id -> [story id, seen at, band keys, first article's signature]",
    options=state_store.table_options(derive=_index_entries),
    extra_topic_configs=state_store.changelog_configs(settings.state.changelog_segment_hours),
)


class _Index:
    """The band index over ``articles_seen`` when it is in memory (tables in memory)."""

    state: StoryState | None = None


def _on_disk() -> DiskStoryState | None:
    index = state_store.derived(articles_seen, 0)
    return DiskStoryState(index, articles_seen) if index is not None else None


@articles_seen.on_recover
async def _rebuild_index() -> None:
    if _on_disk() is not None:
        log.info("dedup: band index on disk beside the table: nothing to rebuild")
        return
    started = time.monotonic()
    # Off the event loop (millions of records take seconds), reading the table there too:
    # no agent writes to it before recovery has ended.
    records = await asyncio.to_thread(lambda: dict(articles_seen.items()))
    _Index.state = await asyncio.to_thread(StoryState, records)
    log.info("dedup: index rebuilt from %d article record(s): %d stories, %d band keys, %.1fs",
             len(records), len(_Index.state), _Index.state.band_count,
             time.monotonic() - started)
    del records


def _state() -> StoryState | DiskStoryState:
    on_disk = _on_disk()
    if on_disk is not None:
        return on_disk
    if _Index.state is None:
        _Index.state = StoryState(articles_seen)
    return _Index.state


def _assign(article: EnrichedArticle, fp: Fingerprint) -> EnrichedArticle:
    recorded = articles_seen.get(article.id)
    decision, record = _state().assign(
        article.id, fp, seen_at=article.ingested_at.timestamp(), recorded=recorded)
    # A replayed article's record is written again: a worker killed between its local write
    # and the changelog's may have it on disk only, where no other worker would find it.
    articles_seen[article.id] = record if record is not None else recorded
    return article.model_copy(
        update={"story_id": decision.story_id, "duplicate_of": decision.duplicate_of}
    )


async def dedup_batch(events: list[EventT]) -> None:
    articles: list[EnrichedArticle] = []
    letters = []
    for event in events:
        try:
            articles.append(EnrichedArticle.model_validate_json(event.message.value or b""))
        except ValidationError as e:
            letters.append((event.message.key, dead_letter(
                event, stage="enrich", reason="invalid_enriched", error=str(e).splitlines()[0])))
    # Signatures are CPU work (a few hundred µs each): off the event loop.  Decisions stay
    # on it, in order, since they read what the previous article recorded.
    fps = await asyncio.to_thread(lambda: [fingerprint(a.body) for a in articles])
    outputs: list[tuple[TopicT, bytes | None, bytes]] = []
    copies = 0
    for article, fp in zip(articles, fps, strict=True):
        final = _assign(article, fp)
        copies += final.duplicate_of is not None
        outputs.append((enriched_topic, article.id.encode(), final.model_dump_json().encode()))
    await send_all(outputs)
    await send_dead_letters(letters)
    log.info("dedup: %d articles, %d copies, %d dead-lettered", len(outputs), copies, len(letters))


@app.agent(dedup_topic)
async def dedup(stream: StreamT) -> None:
    async for events in batches(
        stream, settings.index.batch_size, within=settings.index.batch_seconds
    ):
        await dedup_batch(events)


@app.timer(interval=settings.state.sweep_seconds)
async def forget_old_stories() -> None:
    """Delete the records of stories older than the syndication horizon (tombstones)."""
    if app.rebalancing or getattr(app, "in_recovery", False):
        return
    if not any(tp.topic == settings.topics.dedup for tp in app.consumer.assignment()):
        return  # another worker owns the stories now
    horizon = settings.state.dedup_horizon_days * 86400
    on_disk = _on_disk()
    if on_disk is not None:
        gone = await asyncio.to_thread(on_disk.expire, now=time.time(), horizon=horizon)
    elif _Index.state is not None:
        gone = _Index.state.expire(now=time.time(), horizon=horizon, records=articles_seen)
    else:
        return
    for article_id in gone:
        articles_seen.pop(article_id, None)
    if gone:
        log.info("dedup: forgot %d article record(s) of stories older than %g days",
                 len(gone), settings.state.dedup_horizon_days)
