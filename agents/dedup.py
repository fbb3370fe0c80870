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
from pipeline.stories.assign import StoryAssigner
from pipeline.stories.dedup import fingerprint
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


_stories = StoryAssigner(bands, story_signatures)


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
        decision = _stories.assign(article.id, fp)
        copies += decision.duplicate_of is not None
        final = article.model_copy(
            update={"story_id": decision.story_id, "duplicate_of": decision.duplicate_of})
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
