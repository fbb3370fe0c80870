"""What is known beats what the model guesses: places, organisations, groups, people.

Spans are given by hand (as the model might give them) so each rule is tested alone; the
texts are invented for these tests.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.enrichment.entities import article_text, keyword_fields, refine_entities
from pipeline.enrichment.gazetteer import get_gazetteer
from pipeline.enrichment.lexicon import Lexicon
from pipeline.enrichment.ruler import get_ruler
from schemas import Entity
from tests.support import span


def _labels(entities: list[Entity]) -> dict[str, str]:
    return {e.text: e.label for e in entities}


# -- places are not persons ------------------------------------------------------------


def test_a_country_called_a_person_is_a_place() -> None:
    body = "Aid reached Ecuador on Monday, and Ecuador thanked the donors."
    spans = [span(body, "Ecuador", "PERSON"), span(body, "Ecuador", "PERSON", nth=1)]
    entities = refine_entities(body, spans, language="en")
    assert _labels(entities) == {"Ecuador": "GPE"}
    assert keyword_fields(entities)["places"] == ["Ecuador"]
    assert keyword_fields(entities)["persons"] == []


def test_a_region_called_a_person_is_a_place_in_both_languages() -> None:
    body = "Los albergues de Tarapacá están llenos, dijo el gobernador."
    entities = refine_entities(body, [span(body, "Tarapacá", "PER")], language="es")
    assert _labels(entities) == {"Tarapacá": "GPE"}
    regions = [c for c in get_gazetteer().places("Tarapaca") if c.kind == "region"]
    assert [c.country_code for c in regions] == ["CL"]  # found without its accent too


def test_a_place_name_with_person_evidence_stays_a_person() -> None:
    body = "Mr. Jordan met the minister. Later, Chad Smith and Chad spoke to reporters."
    spans = [
        span(body, "Jordan", "PERSON"),
        span(body, "Chad Smith", "PERSON"),
        span(body, "Chad", "PERSON", nth=1),
    ]
    entities = refine_entities(body, spans, language="en")
    labels = _labels(entities)
    assert labels["Jordan"] == "PERSON"  # a title before it
    # "Chad" alone is the first name of the one person the article names so: him.
    assert "Chad" not in labels
    assert [(e.text, e.label, e.count) for e in entities if e.text == "Chad Smith"] == [
        ("Chad Smith", "PERSON", 2)
    ]


def test_a_person_called_a_place_is_a_person_when_the_first_name_is_known() -> None:
    body = "Talks with Marisol Quintanilla ended late, officials in Quito said."
    spans = [span(body, "Marisol Quintanilla", "LOC"), span(body, "Quito", "LOC")]
    labels = _labels(refine_entities(body, spans, language="en"))
    assert labels == {"Marisol Quintanilla": "PERSON", "Quito": "GPE"}


# -- Spanish sentence openers ------------------------------------------------------------


def test_spanish_openers_are_never_entities() -> None:
    body = "Según Protección Civil, el río creció. El Gobierno no respondió. Tras la reunión, nada."
    spans = [
        span(body, "Según Protección Civil", "PER"),
        span(body, "El Gobierno", "PER"),
        span(body, "Tras la reunión", "MISC"),
    ]
    entities = refine_entities(body, spans, language="es")
    assert [(e.text, body[e.mentions[0].start : e.mentions[0].end]) for e in entities] == [
        ("Protección Civil", "Protección Civil")
    ]


def test_a_title_swallowed_by_the_span_is_dropped_and_marks_a_person() -> None:
    body = "El presidente Ramiro Ocampo Lledó viajó a Santiago. El ministro del Interior no."
    spans = [
        span(body, "El presidente Ramiro Ocampo Lledó", "MISC"),
        span(body, "ministro del Interior", "LOC"),
    ]
    entities = refine_entities(body, spans, language="es")
    assert _labels(entities) == {"Ramiro Ocampo Lledó": "PERSON"}


# -- organisations, platforms, groups -------------------------------------------------------


def test_known_organisations_are_found_and_named_once() -> None:
    body = (
        "Salvamento Marítimo rescató a 40 personas y la Guardia Civil detuvo al patrón. "
        "ACNUR y la OIM pidieron calma."
    )
    # The model saw only a person called "Salvamento" and nothing else.
    entities = refine_entities(body, [span(body, "Salvamento", "PER")], language="es")
    assert _labels(entities) == {
        "Salvamento Marítimo": "ORG",
        "Guardia Civil": "ORG",
        "UNHCR": "ORG",
        "International Organization for Migration": "ORG",
    }


def test_platforms_and_agencies_are_not_persons() -> None:
    body = "Border Patrol agents posted on Twitter that DHS and Homeland Security agreed."
    spans = [
        span(body, "Border Patrol", "PERSON"),
        span(body, "Twitter", "PERSON"),
        span(body, "DHS", "ORG"),
        span(body, "Homeland Security", "ORG"),
    ]
    entities = refine_entities(body, spans, language="en")
    assert _labels(entities) == {
        "Border Patrol": "ORG",
        "Twitter": "ORG",
        "Department of Homeland Security": "ORG",
    }
    [dhs] = [e for e in entities if e.text == "Department of Homeland Security"]
    assert [body[m.start : m.end] for m in dhs.mentions] == ["DHS", "Homeland Security"]


def test_one_canonical_name_per_country_and_person_across_spellings() -> None:
    body = "The U.S. and the US agreed; America will act, said Trump. Estados Unidos también."
    spans = [
        span(body, "U.S.", "GPE"),
        span(body, "US", "GPE"),
        span(body, "America", "GPE"),
        span(body, "Trump", "ORG"),
        span(body, "Estados Unidos", "LOC"),
    ]
    fields = keyword_fields(refine_entities(body, spans, language="en"))
    assert fields["places"] == ["United States"]
    assert fields["persons"] == ["Donald Trump"]


def test_fox_is_fox_news() -> None:
    body = "FOX reported it first; Fox repeated it."
    spans = [span(body, "FOX", "ORG"), span(body, "Fox", "ORG")]
    assert keyword_fields(refine_entities(body, spans, language="en"))["orgs"] == ["Fox News"]


def test_parties_are_groups_not_nationalities() -> None:
    body = "Democrats and Republican senators met Mexican diplomats; the Republican Party agreed."
    spans = [
        span(body, "Democrats", "NORP"),
        span(body, "Republican", "NORP"),
        span(body, "Mexican", "NORP"),
        span(body, "Republican Party", "ORG"),
    ]
    fields = keyword_fields(refine_entities(body, spans, language="en"))
    assert fields["nationalities"] == ["Mexicans"]
    assert fields["groups"] == ["Democrats", "Republicans"]
    assert fields["orgs"] == ["Republican Party"]


def test_users_extend_the_organisations(tmp_path: Path) -> None:
    (tmp_path / "organisations.tsv").write_text(
        "# a local shelter network\nRed Cobijo del Norte\tRCN|Cobijo Norte\n", encoding="utf-8"
    )
    lexicon = Lexicon([tmp_path])
    for name in ("RCN", "Cobijo Norte", "red cobijo del norte"):
        known = lexicon.lookup(name)
        assert known is not None and known.canonical == "Red Cobijo del Norte", name
    assert lexicon.lookup("rcn") is None  # abbreviations match in capitals only


# -- the title -----------------------------------------------------------------------------


def test_title_mentions_point_into_the_title() -> None:
    title = "Frontex warns Malta"
    body = "Frontex said boats left Libya."
    text = article_text(title, body)
    spans = [
        span(text, "Frontex", "ORG"),
        span(text, "Malta", "GPE"),
        span(text, "Frontex", "ORG", nth=1),
        span(text, "Libya", "GPE"),
    ]
    entities = refine_entities(body, spans, language="en", title=title)
    by_text = {e.text: e for e in entities}
    assert [(m.field, m.start) for m in by_text["Frontex"].mentions] == [("title", 0), ("body", 0)]
    [malta] = by_text["Malta"].mentions
    assert (malta.field, title[malta.start : malta.end]) == ("title", "Malta")
    [libya] = by_text["Libya"].mentions
    assert (libya.field, body[libya.start : libya.end]) == ("body", "Libya")


# -- the ruler ------------------------------------------------------------------------------


def test_ruler_finds_places_but_not_inside_longer_names() -> None:
    text = "Migrants left Mexico City for Mexico; Chad Wolf spoke of Chad and Latin America."
    found = {text[s:e]: label for s, e, label in get_ruler().find(text)}
    # "Mexico City" is a longer name, and "Latin America" a listed region, not "America";
    # "Chad" alone is also a first name, so only the model's span and the evidence around
    # it decide what it is.
    assert found == {"Mexico": "GPE", "Chad Wolf": "PERSON", "Latin America": "GPE"}
    assert [s for s, e, _ in get_ruler().find(text) if text[s:e] == "Mexico"] == [
        text.index("for Mexico") + 4
    ]


def test_camps_are_places_and_the_pandemic_is_no_one() -> None:
    body = "COVID-19 reached the Moria camp; officials at Moria counted cases."
    spans = [span(body, "COVID-19", "PERSON"), span(body, "Moria", "PERSON", nth=1)]
    entities = refine_entities(body, spans, language="en")
    assert _labels(entities) == {"Moria": "GPE"}
    assert keyword_fields(entities)["persons"] == []


def test_a_word_in_capitals_is_not_a_person() -> None:
    body = "CLAIM: the senator said so. VERDICT: false, according to Ana Ruiz."
    spans = [
        span(body, "CLAIM", "PERSON"),
        span(body, "VERDICT", "PERSON"),
        span(body, "Ana Ruiz", "PERSON"),
    ]
    assert _labels(refine_entities(body, spans, language="en")) == {"Ana Ruiz": "PERSON"}
