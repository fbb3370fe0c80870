"""The enrich agent: ``news.raw`` → validate → enrich → ``news.enriched`` (or dead letters).

NER runs in the ``EnrichmentPool``'s child process, so this loop only decodes, awaits and
forwards; outputs are acknowledged by the broker before the input batch is acked.
"""

from __future__ import annotations

import logging
import time

from faust.types import EventT, StreamT

from agents.app import (
    app,
    dead_letter,
    dedup_topic,
    overlapping_batches,
    raw_topic,
    send_all,
    send_dead_letters,
    services,
    settings,
)
from pipeline.enrichment.copies import CopyAwareEnrichment
from pipeline.enrichment.enrich import EnrichError
from pipeline.ingest.validate import InvalidArticle, parse_raw
from pipeline.operations.metrics import (
    IN,
    OUT,
    count,
    count_ner_skipped,
    dead_lettered,
    observe_batch,
)
from schemas import RawArticle

log = logging.getLogger("newsflow.enrich")


async def enrich_batch(enrichment: CopyAwareEnrichment, events: list[EventT]) -> None:
    valid: list[tuple[EventT, RawArticle]] = []
    letters = []
    for event in events:
        try:
            raw = parse_raw(event.message.value, max_bytes=settings.kafka.max_message_bytes)
            valid.append((event, raw))
        except InvalidArticle as e:
            letters.append((event.message.key, dead_letter(
                event, stage="validate", reason=e.reason, error=e.detail)))
    invalid = len(letters)
    started = time.perf_counter()
    batch = await enrichment.enrich([raw for _, raw in valid])
    outcomes = batch.outcomes
    enrich_seconds = time.perf_counter() - started
    outputs = []
    for (event, _), outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, EnrichError):
            letters.append((event.message.key, dead_letter(
                event, stage="enrich", reason=outcome.reason, error=outcome.detail)))
        else:
            outputs.append((dedup_topic, outcome.id.encode(), outcome.json.encode()))
    await send_all(outputs)
    await send_dead_letters(letters)
    _observe(len(events), len(valid), len(outputs), [letter.reason for _, letter in letters],
             invalid=invalid, seconds=enrich_seconds)
    count_ner_skipped(batch.skipped)
    log.info("enrich: %d enriched (%d exact copies without NER), %d dead-lettered",
             len(outputs), sum(batch.skipped.values()), len(letters))


def _observe(taken: int, valid: int, enriched: int, reasons: list[str], *,
             invalid: int, seconds: float) -> None:
    observe_batch("validate", taken)
    observe_batch("enrich", valid, seconds)
    count("validate", IN, taken)
    count("validate", OUT, valid)
    dead_lettered("validate", reasons[:invalid])
    count("enrich", IN, valid)
    count("enrich", OUT, enriched)
    dead_lettered("enrich", reasons[invalid:])


@app.agent(raw_topic)
async def enrich(stream: StreamT) -> None:
    await overlapping_batches(
        stream,
        settings.enrich.batch_size,
        within=settings.enrich.batch_seconds,
        process=lambda events: enrich_batch(services().enrichment, events),
    )
