"""The pool: enrichment in a spawned child, per-article outcomes, survives a dead child."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal

from pipeline.core.settings import Settings
from pipeline.enrichment.enrich import EnrichError
from pipeline.enrichment.pool import Enriched, EnrichmentPool
from schemas import EnrichedArticle, RawArticle

RAWS = [
    RawArticle(id="p-1", body="Angela Merkel visited a shelter for refugees in Berlin."),
    RawArticle(id="p-2", body="\u00ad\u202a \u2066"),  # passes validation, nothing visible
    RawArticle(id="p-3", body="La ministra Carolina Valdivia habló en Santiago sobre la frontera."),
]


def _check(outcomes: list) -> None:
    assert [type(o) for o in outcomes] == [Enriched, EnrichError, Enriched]
    assert [o.id for o in outcomes if isinstance(o, Enriched)] == ["p-1", "p-3"]
    first, third = (EnrichedArticle.model_validate_json(o.json) for o in outcomes[::2])
    assert first.id == "p-1" and "Angela Merkel" in first.persons
    assert outcomes[1].reason == "empty_body"
    assert third.id == "p-3" and third.language == "es" and "Carolina Valdivia" in third.persons


def test_pool_returns_one_outcome_per_article_and_survives_its_child_dying() -> None:
    async def scenario() -> None:
        async with EnrichmentPool.from_settings(Settings()) as pool:
            children = multiprocessing.active_children()
            assert children and all(c.pid != os.getpid() for c in children)
            _check(await pool.enrich(RAWS))
            assert await pool.enrich([]) == []

            for child in children:
                os.kill(child.pid, signal.SIGKILL)
                child.join(timeout=10)
            _check(await pool.enrich(RAWS))  # a new child took over
            assert {c.pid for c in multiprocessing.active_children()}.isdisjoint(
                {c.pid for c in children}
            )

    asyncio.run(scenario())
    assert multiprocessing.active_children() == []
