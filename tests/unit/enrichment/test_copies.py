"""Exact copies reuse an enrichment: the content hash, the copy itself, and a batch that
sends only new texts to NER (real models in a real child process; no Elasticsearch)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from pipeline.core.settings import Settings
from pipeline.enrichment.copies import (
    BATCH,
    RECENT,
    CopyAwareEnrichment,
    RecentEnrichments,
    as_copy,
)
from pipeline.enrichment.enrich import Enricher, raw_content_hash
from pipeline.enrichment.pool import Enriched, EnrichmentPool, PoolOutcome
from schemas import EnrichedArticle, RawArticle

SETTINGS = Settings()
TITLE = "Migrants rescued off Lampedusa"
BODY = (
    "The Italian coast guard rescued 43 migrants near Lampedusa on Tuesday, the "
    "International Organization for Migration said. Maria Rossi, a nurse in Palermo, "
    "said the Red Cross had opened a second shelter.\n\nMore boats left Libya overnight."
)
NOW = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)


def _raw(article_id: str, *, title: str = TITLE, body: str = BODY, **fields: object) -> RawArticle:
    return RawArticle.model_validate({"id": article_id, "title": title, "body": body, **fields})


@pytest.fixture(scope="module")
def original() -> EnrichedArticle:
    (out,) = Enricher.from_settings(SETTINGS).enrich(
        [_raw("wire-1", url="https://wire.example/1", source="Wire", authors=["A. Writer"],
              published_at="2024-05-01T08:00:00Z", metadata={"feed": "wire"})],
        ingested_at=NOW,
    )
    assert isinstance(out, EnrichedArticle), out
    assert out.entities and out.tags, "the fixture text must give entities and tags"
    return out


# --- the content hash ---------------------------------------------------------------------


def test_the_hash_is_of_the_cleaned_text(original: EnrichedArticle) -> None:
    same = raw_content_hash(_raw("x"))
    assert same == original.content_hash
    # invisible characters, other whitespace, CRLF: cleaned away, still the same text
    noisy = _raw("y", title=" Migrants\u200b rescued  off Lampedusa ",
                 body=BODY.replace(" the ", " \u00a0the ").replace("\n", "\r\n"))
    assert raw_content_hash(noisy) == same
    # a near-copy is another text: a word changed, the title changed, title moved into body
    assert raw_content_hash(_raw("z", body=BODY.replace("43", "44"))) != same
    assert raw_content_hash(_raw("z", title="Migrants rescued")) != same
    assert raw_content_hash(RawArticle(id="z", body=f"{TITLE}\n{BODY}")) != same
    assert raw_content_hash(RawArticle(id="z", body="\u200b\u00ad x")) is not None
    assert raw_content_hash(RawArticle(id="z", body="\u00ad\u202a \u2066")) is None


# --- one copy -----------------------------------------------------------------------------


def test_a_copy_keeps_what_is_its_own_and_reuses_the_rest(original: EnrichedArticle) -> None:
    raw = _raw("outlet-7", url="https://outlet.example/a?b=1", source=" Outlet\u200b Daily ",
               authors=["B. Editor"], published_at="2024-05-01T10:15:00+02:00",
               metadata={"feed": "outlet", "rank": 3})
    out = as_copy(original.model_dump_json(), raw, ingested_at=NOW)
    assert isinstance(out, Enriched) and out.id == "outlet-7"
    copy = EnrichedArticle.model_validate_json(out.json)
    assert copy.id == copy.story_id == "outlet-7" and copy.duplicate_of is None
    assert copy.enrichment_of == "wire-1"
    assert str(copy.url) == "https://outlet.example/a?b=1" and copy.source == "Outlet Daily"
    assert copy.authors == ["B. Editor"] and copy.metadata == {"feed": "outlet", "rank": 3}
    assert copy.published_at == datetime(2024, 5, 1, 8, 15, tzinfo=UTC)
    assert copy.ingested_at == NOW
    reused = {"id", "url", "source", "published_at", "ingested_at", "authors", "metadata",
              "story_id", "duplicate_of", "enrichment_of"}
    assert copy.model_dump(exclude=reused) == original.model_dump(exclude=reused)
    # offsets still point at the same words
    assert {copy.body[m.start:m.end] for e in copy.entities for m in e.mentions} == {
        original.body[m.start:m.end] for e in original.entities for m in e.mentions}


def test_copies_of_copies_name_the_article_that_paid_for_ner(original: EnrichedArticle) -> None:
    first = as_copy(original.model_dump(mode="json"), _raw("c-1"), ingested_at=NOW)
    assert first is not None
    second = as_copy(first.json, _raw("c-2"), ingested_at=NOW)
    assert second is not None
    assert EnrichedArticle.model_validate_json(second.json).enrichment_of == "wire-1"
    # the same article sent again is not a copy of itself
    again = as_copy(original.model_dump_json(), _raw("wire-1"), ingested_at=NOW)
    assert again is not None
    assert EnrichedArticle.model_validate_json(again.json).enrichment_of is None
    # without a publisher date a copy is dated by its own ingestion, not the original's
    assert EnrichedArticle.model_validate_json(first.json).published_at == NOW


def test_a_copy_that_cannot_stand_in_is_refused(original: EnrichedArticle) -> None:
    text = original.model_dump_json()
    # the enricher trusts publishers' language codes: only the same code may reuse
    assert as_copy(text, _raw("c", language="es"), ingested_at=NOW,
                   publisher_language=True) is None
    assert as_copy(text, _raw("c", language="en"), ingested_at=NOW,
                   publisher_language=True) is not None
    assert as_copy("{not json", _raw("c"), ingested_at=NOW) is None


def test_recent_enrichments_are_bounded_least_recent_out() -> None:
    recent = RecentEnrichments(2)
    recent.put("a", "A")
    recent.put("b", "B")
    assert recent.get("a") == "A"  # now "b" is the least recent
    recent.put("c", "C")
    assert (recent.get("a"), recent.get("b"), recent.get("c"), len(recent)) == ("A", None, "C", 2)
    off = RecentEnrichments(0)
    off.put("a", "A")
    assert off.get("a") is None


# --- a batch ------------------------------------------------------------------------------


class _Watched(EnrichmentPool):
    """The real pool, remembering which articles it was given (i.e. which paid NER)."""

    sent: list[str]

    async def enrich(self, raws: Sequence[RawArticle], **kw: datetime | None) -> list[PoolOutcome]:
        self.sent.extend(r.id or "" for r in raws)
        return await super().enrich(raws, **kw)


def test_a_batch_sends_each_new_text_to_ner_once() -> None:
    near = BODY.replace("43 migrants", "45 migrants")

    async def scenario() -> None:
        async with _Watched.from_settings(SETTINGS) as pool:
            pool.sent = []
            copies = CopyAwareEnrichment(pool, es=None, index="unused")
            first = await copies.enrich([
                _raw("o-1"), _raw("o-2", source="Other"), _raw("n-1", body=near),
                RawArticle(id="bad", body="\u00ad\u202a \u2066"), _raw("o-3"),
            ], ingested_at=NOW)
            assert pool.sent == ["o-1", "n-1", "bad"]
            assert first.skipped == {BATCH: 2}
            kinds = [type(o).__name__ for o in first.outcomes]
            assert kinds == ["Enriched", "Enriched", "Enriched", "EnrichError", "Enriched"]
            by_id = {o.id: EnrichedArticle.model_validate_json(o.json)
                     for o in first.outcomes if isinstance(o, Enriched)}
            assert by_id["o-2"].enrichment_of == by_id["o-3"].enrichment_of == "o-1"
            assert by_id["o-2"].source == "Other"
            assert by_id["o-2"].entities == by_id["o-1"].entities
            assert by_id["n-1"].enrichment_of is None  # a near-copy paid NER

            second = await copies.enrich([_raw("o-4"), _raw("n-2", body=near)])
            assert pool.sent == ["o-1", "n-1", "bad"]  # both known from the first batch
            assert second.skipped == {RECENT: 2}
            assert [o.id for o in second.outcomes] == ["o-4", "n-2"]

            # two batches at once (the enrich agent overlaps them): the second's copy waits
            # for the first's NER instead of paying it again
            other = BODY.replace("Tuesday", "Wednesday")
            a, b = await asyncio.gather(
                copies.enrich([_raw("w-1", body=other)]),
                copies.enrich([_raw("w-2", body=other, source="Late")]))
            assert pool.sent[-1] == "w-1" and "w-2" not in pool.sent
            assert (a.skipped, b.skipped) == ({}, {RECENT: 1})
            late = EnrichedArticle.model_validate_json(b.outcomes[0].json)  # type: ignore[union-attr]
            assert (late.id, late.source, late.enrichment_of) == ("w-2", "Late", "w-1")

            plain = CopyAwareEnrichment(pool, es=None, index="unused", reuse=False)
            third = await plain.enrich([_raw("o-5"), _raw("o-6")])
            assert pool.sent[-2:] == ["o-5", "o-6"] and not third.skipped

    asyncio.run(scenario())
