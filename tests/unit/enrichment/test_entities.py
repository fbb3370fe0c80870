"""Entities: one canonical name and label per thing per article, offsets into the body."""

from __future__ import annotations

import pytest

from pipeline.core.settings import Settings
from pipeline.enrichment.entities import keyword_fields, refine_entities
from pipeline.enrichment.nlp import load_ner_pipeline
from schemas import Entity
from tests.support import SAMPLE_ARTICLE, span

SETTINGS = Settings()


def _spans(model: str, text: str) -> list[tuple[int, int, str]]:
    nlp = load_ner_pipeline(model)
    return [(e.start_char, e.end_char, e.label_) for e in nlp(text).ents]


def _by_text(entities: list[Entity]) -> dict[str, Entity]:
    return {e.text: e for e in entities}


@pytest.fixture(scope="module")
def sample() -> tuple[str, list[Entity]]:
    body = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    return body, refine_entities(body, _spans(SETTINGS.enrich.model_en, body), language="en")


# -- on the real sample with the real English model ---------------------------------


def test_surname_folds_into_the_full_name(sample: tuple[str, list[Entity]]) -> None:
    body, entities = sample
    delgado = _by_text(entities)["Rodrigo Delgado"]
    assert delgado.label == "PERSON"
    assert "Delgado" not in _by_text(entities)
    assert delgado.count == len(delgado.mentions) == 2
    assert [body[m.start : m.end] for m in delgado.mentions] == ["Rodrigo Delgado", "Delgado"]


def test_one_label_per_entity(sample: tuple[str, list[Entity]]) -> None:
    _, entities = sample
    # The model calls "Iquique" a NORP twice and a GPE once; the article agrees on one.
    iquique = [e for e in entities if e.text == "Iquique"]
    assert len(iquique) == 1
    assert (iquique[0].label, iquique[0].count) == ("GPE", 3)


def test_gazetteer_fixes_places_and_groups(sample: tuple[str, list[Entity]]) -> None:
    _, entities = sample
    named = _by_text(entities)
    assert named["Iquique"].label == "GPE"  # the model says NORP
    assert named["Colchane"].label == "GPE"
    assert named["Bolivia"].label == "GPE"
    assert named["Tarapacá"].label == "GPE"
    assert named["Venezuelans"].label == "NORP"


def test_keyword_fields_of_the_sample(sample: tuple[str, list[Entity]]) -> None:
    _, entities = sample
    fields = keyword_fields(entities)
    assert set(fields["nationalities"]) == {"Venezuelans"}
    assert {"Iquique", "Colchane", "Bolivia", "Chile"} <= set(fields["places"])
    assert "Rodrigo Delgado" in fields["persons"] and "Delgado" not in fields["persons"]
    for values in fields.values():
        assert len(values) == len(set(values))


def test_every_mention_points_at_its_text(sample: tuple[str, list[Entity]]) -> None:
    body, entities = sample
    for entity in entities:
        assert entity.count == len(entity.mentions)
        for m in entity.mentions:
            mention = body[m.start : m.end]
            assert mention == mention.strip() and mention
            assert mention[-2:] not in ("'s", "’s")
    starts = [e.mentions[0].start for e in entities]
    assert starts == sorted(starts)


def test_spanish_demonyms_and_cities() -> None:
    body = (
        "Cientos de venezolanos y haitianas llegaron el lunes a Tapachula, en la frontera sur "
        "de México, y otros siguieron hacia Monterrey. Los venezolanos piden asilo."
    )
    entities = refine_entities(body, _spans(SETTINGS.enrich.model_es, body), language="es")
    named = _by_text(entities)
    # One value per people in both languages, as for countries: the English plural.
    assert named["Venezuelans"].label == "NORP"
    assert named["Venezuelans"].count == 2
    assert named["Haitians"].label == "NORP"  # "haitianas" too
    assert named["Tapachula"].label == "GPE"  # WikiNER LOC, a city in the gazetteer
    assert named["Monterrey"].label == "GPE"
    assert set(keyword_fields(entities)["nationalities"]) == {"Venezuelans", "Haitians"}


# -- canonicalisation rules on hand-built spans -------------------------------------


def test_strips_article_possessive_and_punctuation() -> None:
    body = "“The Red Cross’s staff” met the United Nations, and (UNHCR) agreed."
    spans = [
        span(body, "The Red Cross’s", "ORG"),
        span(body, "the United Nations,", "ORG"),
        span(body, "(UNHCR)", "ORG"),
    ]
    entities = refine_entities(body, spans, language="en")
    assert [e.text for e in entities] == ["Red Cross", "United Nations", "UNHCR"]
    assert [body[e.mentions[0].start : e.mentions[0].end] for e in entities] == [
        "Red Cross",
        "United Nations",
        "UNHCR",
    ]


def test_whitespace_is_normalised_and_variants_merge() -> None:
    body = "Human  Rights\nWatch said so. HUMAN RIGHTS WATCH repeated it."
    spans = [(0, 19, "ORG"), span(body, "HUMAN RIGHTS WATCH", "ORG")]
    [entity] = refine_entities(body, spans, language="en")
    assert entity.text == "Human Rights Watch"
    assert entity.count == 2


def test_junk_and_unknown_types_are_dropped() -> None:
    body = "On 12 March 2021, 4,000 people and 7 percent of them waited. ! A"
    spans = [
        span(body, "12 March 2021", "DATE"),
        span(body, "4,000", "CARDINAL"),
        span(body, "7 percent", "PERCENT"),
        span(body, "!", "ORG"),
        span(body, "A", "PERSON", nth=0),
        span(body, "4,000", "ORG"),
    ]
    assert refine_entities(body, spans, language="en") == []


def test_spanish_labels_map_onto_one_scheme() -> None:
    body = "Ana Pérez dijo en Lima que la ACNUR y los haitianos celebran el Mundial."
    spans = [
        span(body, "Ana Pérez", "PER"),
        span(body, "Lima", "LOC"),
        span(body, "ACNUR", "ORG"),
        span(body, "haitianos", "MISC"),
        span(body, "Mundial", "MISC"),
    ]
    labels = {e.text: e.label for e in refine_entities(body, spans, language="es")}
    assert labels == {
        "Ana Pérez": "PERSON",
        "Lima": "GPE",
        "UNHCR": "ORG",  # one canonical name for the agency, whatever the language
        "Haitians": "NORP",  # one name per people in both languages, as for agencies
        "Mundial": "MISC",
    }


def test_lowercase_fragments_are_not_names() -> None:
    body = "El ministro del Interior visitó Ceuta."
    spans = [span(body, "ministro del Interior", "LOC"), span(body, "Ceuta", "LOC")]
    assert [e.text for e in refine_entities(body, spans, language="es")] == ["Ceuta"]


def test_gazetteer_overrides_only_what_the_model_found() -> None:
    body = "In March the Mobile office in Nice moved; Iquique grew; Chad Smith and Chad spoke."
    spans = [
        span(body, "Iquique", "NORP"),
        span(body, "Nice", "ORG"),
        span(body, "Chad Smith", "PERSON"),
        span(body, "Chad", "PERSON", nth=1),
    ]
    labels = {e.text: e.label for e in refine_entities(body, spans, language="en")}
    # "March" and "Mobile" were not entities and do not become any; "Nice" as the model's
    # ORG stays ORG; a PERSON named like a country stays a PERSON (and is Chad Smith).
    assert labels == {"Iquique": "GPE", "Nice": "ORG", "Chad Smith": "PERSON"}


def test_surname_shared_by_two_people_does_not_fold() -> None:
    body = "Jimena Ortiz and Luis Ortiz spoke. Ortiz left."
    spans = [
        span(body, "Jimena Ortiz", "PERSON"),
        span(body, "Luis Ortiz", "PERSON"),
        span(body, "Ortiz", "PERSON", nth=2),
    ]
    texts = [e.text for e in refine_entities(body, spans, language="en")]
    assert texts == ["Jimena Ortiz", "Luis Ortiz", "Ortiz"]


def test_demonym_variants_are_one_nationality() -> None:
    body = "Venezuelan families and other Venezuelans crossed; Syrians too."
    spans = [span(body, "Venezuelan", "NORP"), span(body, "Venezuelans", "NORP")]
    entities = refine_entities(body, spans, language="en")
    named = _by_text(entities)
    assert named["Venezuelans"].count == 2
    assert named["Syrians"].label == "NORP"  # a plural demonym the model missed
    assert keyword_fields(entities)["nationalities"] == ["Venezuelans", "Syrians"]


def test_a_run_of_text_the_model_calls_a_name_is_not_an_entity() -> None:
    """Elasticsearch refuses a whole document whose keyword term exceeds 32,766 bytes."""
    run = "Xavierlongname" * 5_000
    body = f"Police in London said that {run} was seen."
    spans = [span(body, "London", "GPE"), span(body, run, "GPE")]
    entities = refine_entities(body, spans, language="en")
    assert [e.text for e in entities] == ["London"]
