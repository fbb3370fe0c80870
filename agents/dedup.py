"""The dedup agent: ``news.dedup`` → story id, duplicate_of → ``news.enriched``.

One serial decision point: ``news.dedup`` and both tables have one partition, so whichever
worker holds that partition sees every band recorded so far, and a worker that takes it
over (after a crash or a rebalance) first recovers the tables from their changelogs.
Table writes of a batch happen before its outputs are sent, and Faust flushes the
changelog before it commits offsets; a replay after a crash meets the entries it wrote
itself, and ``pipeline.stories.dedup.decide`` gives it the same answer again.
"""

from __future__ import annotations

import asyncio
import logging

from faust.types import EventT, StreamT, TopicT
from pydantic import ValidationError

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
from pipeline.stories.dedup import (
    BandEntry,
    Fingerprint,
    decide,
    fingerprint,
    pack_signature,
    unpack_signature,
)
from schemas import EnrichedArticle

log = logging.getLogger("newsflow.dedup")

# JSON keys and values (the default without a faust.Record type), so what a worker recovers
# from the changelog is the same str/list it wrote.
# key: band key; value: [story id, id of the story's first article]
bands = app.Table(
    "dedup-bands", partitions=1, key_type=str, use_partitioner=True,
    help="LSH band key -> [story id, first article id]",
)
# key: story id; value: the story's first article's signature (pack_signature)
story_signatures = app.Table(
    "dedup-signatures", partitions=1, key_type=str, value_type=str, use_partitioner=True,
    help="story id -> MinHash signature of its first article",
)


def _lookup(key: str) -> BandEntry | None:
    value = bands.get(key)
    if value is None:
        return None
    story_id, first_id = value
    packed = story_signatures.get(story_id)
    return BandEntry(story_id=story_id, first_id=first_id,
                     signature=unpack_signature(packed) if packed else None)


def _assign(article: EnrichedArticle, fp: Fingerprint) -> EnrichedArticle:
    decision = decide(article.id, fp, _lookup)
    first_id = decision.duplicate_of or article.id
    for key in decision.record:
        bands[key] = [decision.story_id, first_id]
    if decision.is_original and fp.signature is not None:
        packed = pack_signature(fp.signature)
        if story_signatures.get(decision.story_id) != packed:  # a replay finds it there
            story_signatures[decision.story_id] = packed
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
    if letters:
        await send_dead_letters(letters)
    log.info("dedup: %d articles, %d copies, %d dead-lettered", len(outputs), copies, len(letters))


@app.agent(dedup_topic)
async def dedup(stream: StreamT) -> None:
    async for events in batches(
        stream, settings.index_batch_size, within=settings.index_batch_seconds
    ):
        await dedup_batch(events)
