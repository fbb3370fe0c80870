"""The enrich stage on real models: cleaning, language, entities, per-article failures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.core.settings import Settings
from pipeline.enrichment.enrich import Enricher, EnrichError, clean_text, clean_title
from pipeline.ingest.ids import article_id
from schemas import EnrichedArticle, RawArticle
from tests.support import SAMPLE_ARTICLE

SETTINGS = Settings()
SPANISH = (
    "La ministra Carolina Valdivia se reunió en Santiago con la Organización Internacional "
    "para las Migraciones para hablar de los migrantes que cruzan la frontera."
)
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\x07\x1b"


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_settings(SETTINGS)


def _mentioned(article: EnrichedArticle) -> set[str]:
    def text(field: str) -> str:
        return (article.title or "") if field == "title" else article.body

    return {text(m.field)[m.start : m.end] for e in article.entities for m in e.mentions}


def _one(enricher: Enricher, raw: RawArticle) -> EnrichedArticle:
    (out,) = enricher.enrich([raw])
    assert isinstance(out, EnrichedArticle), out
    return out


# --- cleaning --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("Ig\u200blesias", "Iglesias"),
        ("Bogota\u0301", "Bogotá"),  # composed (NFC)
        ("Bogota\u200b\u0301", "Bogotá"),  # composed once the zero-width space is gone
        ("a\x00b\x1fc\x7fd\x85e", "abcde"),
        ("\ufeffstart", "start"),
        ("one \t\u00a0 two   three", "one two three"),
        ("first line \r\nsecond line", "first line\nsecond line"),
        ("para one\n\n\n\n  \n para two", "para one\n\npara two"),
        ("  \n\n padded \n\n ", "padded"),
        ("left\u2029right", "left\n\nright"),
    ],
)
def test_clean_text(dirty: str, clean: str) -> None:
    assert clean_text(dirty) == clean


def test_clean_title_is_one_line() -> None:
    assert clean_title("  Border\n\ncrisis\u200b  deepens ") == "Border crisis deepens"
    assert clean_title("\u200b ") is None
    assert clean_title(None) is None


# --- articles --------------------------------------------------------------------------


def test_sample_article(enricher: Enricher) -> None:
    raw = RawArticle(id="cl-1", body=SAMPLE_ARTICLE.read_text(encoding="utf-8"), source="test")
    article = _one(enricher, raw)
    assert article.language == "en"
    names = {(e.text, e.label) for e in article.entities}
    assert ("Rodrigo Delgado", "PERSON") in names
    assert any(text == "Iquique" for text, _ in names)
    assert "Rodrigo Delgado" in article.persons
    for entity in article.entities:
        assert entity.count == len(entity.mentions) >= 1


def test_spanish_article(enricher: Enricher) -> None:
    article = _one(enricher, RawArticle(id="es-1", title="Frontera", body=SPANISH))
    assert article.language == "es"
    assert "Carolina Valdivia" in article.persons
    assert "International Organization for Migration" in article.orgs  # canonical: OIM
    assert "Santiago" in article.places


def test_offsets_point_into_the_cleaned_body(enricher: Enricher) -> None:
    body = (
        f"Interior minister Rod{INVISIBLE}rigo\u00a0\u00a0Delgado   traveled to "
        f"\u200bIquique\u200b on Tuesday.\r\n\r\n\r\nHe met the mayor of Iquique."
    )
    article = _one(enricher, RawArticle(id="dirty-1", body=body))
    assert not set(INVISIBLE + "\r\u00a0") & set(article.body)
    assert "\n\nHe met" in article.body
    mentioned = _mentioned(article)
    assert "Rodrigo Delgado" in mentioned
    assert "Iquique" in mentioned
    for entity in article.entities:
        for m in entity.mentions:
            mention = article.body[m.start : m.end]
            assert mention and mention == mention.strip(), (entity, mention)


def test_defaults_and_derived_fields(enricher: Enricher) -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    raw = RawArticle(id="d-1", body="Migrants reached Lampedusa from Libya.", authors=["A. B."])
    (article,) = enricher.enrich([raw], ingested_at=now)
    assert isinstance(article, EnrichedArticle)
    assert article.published_at == article.ingested_at == now
    assert article.story_id == article.id == "d-1"
    assert article.tags == [t.id for t in article.topics]
    assert article.authors == ["A. B."]
    published = datetime(2024, 4, 30, tzinfo=UTC)
    dated = enricher.enrich([raw.model_copy(update={"published_at": published})])[0]
    assert isinstance(dated, EnrichedArticle)
    assert dated.published_at == published


def test_missing_id_is_derived(enricher: Enricher) -> None:
    raw = RawArticle(url="https://example.org/news/1", body="Refugees arrived in Athens.")
    article = _one(enricher, raw)
    assert article.id == article.story_id == article_id(raw)
    assert article.id.startswith("url-")


def test_publisher_language_only_when_preferred(enricher: Enricher) -> None:
    raw = RawArticle(id="l-1", body="Migrants crossed the river near Eagle Pass.", language="es")
    assert _one(enricher, raw).language == "en"
    trusting = Enricher.from_settings(SETTINGS, prefer_publisher_language=True)
    assert _one(trusting, raw).language == "es"


def test_language_without_model_is_kept_without_entities(enricher: Enricher) -> None:
    body = "Les familles de migrants ont attendu trois jours à la frontière près de Menton."
    article = _one(enricher, RawArticle(id="fr-1", body=body))
    assert article.language == "fr"
    assert article.entities == []


def test_one_bad_article_does_not_fail_the_batch(enricher: Enricher) -> None:
    raws = [
        RawArticle(id="ok-1", body="Angela Merkel visited a shelter in Berlin."),
        RawArticle(id="bad-1", body="\u00ad\u202a \u2066"),  # valid, but nothing visible
        RawArticle(id="ok-2", body=SPANISH),
        RawArticle(id="ok-3", body="Joe Biden spoke about asylum in Texas."),
    ]
    outcomes = enricher.enrich(raws)
    assert [type(o).__name__ for o in outcomes] == [
        "EnrichedArticle", "EnrichError", "EnrichedArticle", "EnrichedArticle"
    ]  # fmt: skip
    assert outcomes[1] == EnrichError("empty_body", "body has no visible text after cleaning")
    ok = [o for o in outcomes if isinstance(o, EnrichedArticle)]
    assert [o.id for o in ok] == ["ok-1", "ok-2", "ok-3"]
    assert [o.language for o in ok] == ["en", "es", "en"]
    assert "Angela Merkel" in ok[0].persons and "Joe Biden" in ok[2].persons
    assert "Carolina Valdivia" in ok[1].persons


def test_source_and_authors_lose_invisible_characters(enricher: Enricher) -> None:
    raw = RawArticle(id="inv-1", body="Migrants reached Lampedusa from Libya.",
                     source="Border\u200b \u202eDaily", authors=["Ana\u00ad Ruiz", "\u200b"])
    article = _one(enricher, raw)
    assert article.source == "Border Daily"
    assert article.authors == ["Ana Ruiz"]


def test_the_title_is_read_and_its_mentions_say_so(enricher: Enricher) -> None:
    raw = RawArticle(
        id="title-1",
        title="Frontex warns Greece about arrivals from Libya",
        body="Officials said more boats left the coast this week. Frontex counted 900 people.",
    )
    article = _one(enricher, raw)
    by_text = {e.text: e for e in article.entities}
    # Greece and Libya are named only in the headline: they are found there.
    for name in ("Greece", "Libya"):
        assert name in article.places
        assert {m.field for m in by_text[name].mentions} == {"title"}
        [mention] = by_text[name].mentions
        assert article.title[mention.start : mention.end] == name
    # Frontex is in both: one entity, a mention in each field, each offset into its own text.
    fields = [(m.field, m.start) for m in by_text["Frontex"].mentions]
    assert fields == [("title", 0), ("body", article.body.index("Frontex"))]

