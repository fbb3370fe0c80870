"""The composition root: the Faust app, its topics and the services agents share.

Agents import ``app`` and the topics from here and hold no business logic; everything
they call lives in ``pipeline``.  Every topic carries raw bytes: the pydantic models in
``schemas`` are the wire format, decoded where a failure can be dead-lettered.

The app and its topics exist at import, because Faust registers agents and tables with
decorators; everything that connects or spawns (the Elasticsearch client, the enrichment
process, the rule book) is built once by ``start_services`` when the worker starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import faust
from elasticsearch import Elasticsearch
from faust.types import EventT, StreamT

from agents import state_store
from pipeline.alerts.rulebook import RuleBook
from pipeline.alerts.store import RuleStore
from pipeline.core.es_client import es_client
from pipeline.core.retry import until_done
from pipeline.core.secretbox import SecretBox
from pipeline.core.settings import Settings, get_settings
from pipeline.enrichment.copies import CopyAwareEnrichment
from pipeline.enrichment.pool import EnrichmentPool
from schemas import DeadLetter, RawArticle
from schemas.deadletter import Stage

log = logging.getLogger("newsflow.agents")


def _broker_credentials(settings: Settings) -> Any:
    if settings.kafka.security_protocol == "PLAINTEXT":
        return None
    ssl_context = None
    if settings.kafka.security_protocol in {"SSL", "SASL_SSL"}:
        import ssl

        cafile = settings.kafka_ca_file()
        ssl_context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    if settings.kafka.security_protocol == "SSL":
        return faust.SSLCredentials(ssl_context)
    return faust.SASLCredentials(
        username=settings.kafka_user(),
        password=settings.kafka_secret(),
        mechanism=settings.kafka.sasl_mechanism or "PLAIN",
        ssl_context=ssl_context,
    )


def create_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.kafka.consumer_group,
        broker=[f"kafka://{host}" for host in settings.kafka.bootstrap.split(",")],
        broker_credentials=_broker_credentials(settings),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication,
        producer_acks=-1,
        producer_max_request_size=2 * settings.kafka.max_message_bytes,
        # Faust's default (16 KB) holds one enriched article (13 KB on average) per batch;
        # below the broker's default 1 MB message limit, which internal topics keep.
        producer_max_batch_size=256 * 1024,
        consumer_max_fetch_size=settings.kafka.max_message_bytes,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # A rebalance does not wait for the batches in flight (1-3 s of NER each): every stage
        # is idempotent, and a batch whose partition moved is read again by its new owner.
        stream_wait_empty=False,
        web_enabled=False,
        # Tables on local disk (agents.state_store), so a restart reads back only the
        # changelog tail; the directory and the worker's group identity are set by
        # agents.worker once it has claimed its slot.
        store=(state_store.register(settings.state.memory_mb)
               if settings.state.store == "rocksdb" else "memory://"),
    )


settings = get_settings()
app = create_app(settings)

raw_topic = app.topic(settings.topics.raw, internal=False)
enriched_topic = app.topic(settings.topics.enriched, internal=False)
deadletter_topic = app.topic(settings.topics.deadletter, internal=False)
dedup_topic = app.topic(settings.topics.dedup, internal=False)
alerts_topic = app.topic(settings.topics.alerts, internal=False)


@dataclass(frozen=True)
class Services:
    """What agents share: one of each per worker."""

    es: Elasticsearch
    pool: EnrichmentPool
    enrichment: CopyAwareEnrichment  # the pool, behind a lookup of exact copies
    rule_book: RuleBook
    rule_store: RuleStore  # writes back rules the match stage switched off


_services: list[Services] = []
_WARM_UP = {
    "en": "Officials in Madrid said on Monday that 40 migrants reached the coast of Spain.",
    "es": "Las autoridades de México dijeron el lunes que 40 migrantes cruzaron la frontera.",
}


async def start_services() -> None:
    """Build the services; the enrichment process is started and its models loaded, so the
    worker joins the consumer group only once it can process what it is given."""
    pool = EnrichmentPool.from_settings(settings)
    await pool.start()
    # One article in each language through the child before joining: its first batch was
    # 2-3 s slower than the next ones (lazy set-up in spaCy and the steps), a latency spike
    # on the partitions a joining worker takes over.
    await pool.enrich([RawArticle(id=f"warm-up-{lang}", body=body, language=lang)
                       for lang, body in _WARM_UP.items()])
    es = es_client(settings)
    _services.append(Services(
        es=es, pool=pool, enrichment=CopyAwareEnrichment.from_settings(pool, settings, es=es),
        rule_book=RuleBook(SecretBox.for_settings(settings)),
        rule_store=RuleStore(settings, es=es)))


async def close_services() -> None:
    while _services:
        built = _services.pop()
        await built.pool.close()
        built.rule_store.close()
        built.es.close()


def services() -> Services:
    if not _services:
        raise RuntimeError("services not started: run the worker with agents.worker.run_worker")
    return _services[0]


def _take_events(stream: StreamT, size: int, *, within: float) -> AsyncIterator[list[EventT]]:
    # Faust hands agents a ``faust.Stream`` but types it as ``StreamT``, whose protocol
    # lacks ``take_events``; and ``take_events`` yields lists, typed as ``Sequence``.
    taking = cast(faust.Stream, stream).take_events(size, within=within)
    return cast(AsyncIterator[list[EventT]], taking)


async def batches(stream: StreamT, size: int, *, within: float) -> AsyncIterator[list[EventT]]:
    """``stream.take_events`` whose batches are acknowledged only once processed.

    ``take_events`` acks a batch in a ``finally``, so also when a stopping worker cancels
    the agent in the middle of it: the offsets were committed unprocessed and the articles
    lost (seen once in the rebalance fault test).  A batch left unfinished has its messages
    marked acked first, which makes that ack a no-op: the partition's next owner reads them.
    """
    async for events in _take_events(stream, size, within=within):
        done = False
        try:
            yield events
            done = True
        finally:
            if not done:
                for event in events:
                    event.message.acked = True


async def overlapping_batches(
    stream: StreamT,
    size: int,
    *,
    within: float,
    process: Callable[[list[EventT]], Awaitable[None]],
    depth: int = 2,
) -> None:
    """``process`` the stream's batches, up to ``depth`` at a time, each acknowledged only
    once its ``process`` has returned.

    For the enrich agent: with one batch at a time its NER process sat idle while the event
    loop forwarded a batch's results and ran the other agents (9% of the time with one
    worker); now the next batch is already waiting for it.  A partition is committed only up
    to its first offset not acknowledged, so batches may finish in any order.  A batch whose
    ``process`` raises or is cancelled (the worker stops) is never acknowledged: whoever
    owns the partition next reads it again.
    """
    in_flight: deque[asyncio.Task[None]] = deque()

    async def process_then_ack(events: list[EventT]) -> None:
        await process(events)
        for event in events:
            event.message.acked = False  # undo the mark made below: this ack must count
            await stream.ack(event)

    try:
        async for events in _take_events(stream, size, within=within):
            for event in events:
                event.message.acked = True  # take_events acks when the next batch is taken
            in_flight.append(asyncio.ensure_future(process_then_ack(list(events))))
            while len(in_flight) >= depth or (in_flight and in_flight[0].done()):
                await in_flight.popleft()
    finally:
        for task in in_flight:
            task.cancel()


def dead_letter(event: EventT, *, stage: Stage, reason: str, error: str) -> DeadLetter:
    message = event.message
    key = message.key.decode("utf-8", "replace") if isinstance(message.key, bytes) else None
    return DeadLetter(
        stage=stage,
        reason=reason,
        error=error,
        key=key,
        payload_b64=DeadLetter.encode(message.value),
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        first_seen=datetime.now(UTC),
    )


async def send_all(sends: Sequence[tuple[faust.TopicT, bytes | None, bytes]]) -> None:
    """Send and wait for every broker acknowledgement before the caller acks its input."""
    futures = [await topic.send(key=key, value=value) for topic, key, value in sends]
    await asyncio.gather(*futures)


async def send_dead_letters(letters: list[tuple[bytes | None, DeadLetter]]) -> None:
    """Send dead letters until the broker takes them: a batch is acked only after its
    letters are safe."""
    if not letters:
        return
    for _, letter in letters:
        log.warning(
            "dead letter: stage=%s reason=%s key=%s offset=%s/%s %s",
            letter.stage, letter.reason, letter.key, letter.partition, letter.offset, letter.error,
        )
    sends = [(deadletter_topic, key, letter.model_dump_json().encode()) for key, letter in letters]
    await until_done(lambda: send_all(sends), retry_on=Exception,
                     what=f"{len(letters)} dead letter(s) not sent", log=log)
