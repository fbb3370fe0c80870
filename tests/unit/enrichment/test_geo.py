"""Places: GPE/LOC entities on the map, disambiguated by what the article says."""

from __future__ import annotations

import pytest

from pipeline.core.settings import Settings
from pipeline.enrichment.entities import refine_entities
from pipeline.enrichment.geo import resolve_places
from pipeline.enrichment.nlp import load_ner_pipeline
from schemas import Entity, Mention, Place
from tests.support import SAMPLE_ARTICLE

# Chile's mainland, generously: a point outside it is a wrong resolution.
CHILE_LAT, CHILE_LON = (-56.0, -17.0), (-76.0, -66.0)


def _entity(body: str, text: str, label: str = "GPE") -> Entity:
    starts = [i for i in range(len(body)) if body.startswith(text, i)]
    mentions = [Mention(start=s, end=s + len(text)) for s in starts]
    return Entity(text=text, label=label, count=len(mentions), mentions=mentions)


@pytest.fixture(scope="module")
def sample_places() -> dict[str, Place]:
    body = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    nlp = load_ner_pipeline(Settings().enrich.model_en)
    spans = [(e.start_char, e.end_char, e.label_) for e in nlp(body).ents]
    entities = refine_entities(body, spans, language="en")
    return {p.name: p for p in resolve_places(entities, body=body)}


def test_sample_towns_resolve_in_chile(sample_places: dict[str, Place]) -> None:
    for name in ("Iquique", "Colchane"):
        place = sample_places[name]
        assert place.country_code == "CL"
        assert CHILE_LAT[0] < place.location.lat < CHILE_LAT[1]
        assert CHILE_LON[0] < place.location.lon < CHILE_LON[1]
        assert place.geonames_id
    assert sample_places["Iquique"].count == 3


def test_sample_countries(sample_places: dict[str, Place]) -> None:
    assert sample_places["Bolivia"].country_code == "BO"
    assert sample_places["Bolivia"].count == 4
    assert sample_places["Chile"].country_code == "CL"


def test_dateline_country_picks_the_bolivian_santa_cruz() -> None:
    body = "SANTA CRUZ, Bolivia — Shelters in Santa Cruz are full, the city said."
    entities = [_entity(body, "SANTA CRUZ"), _entity(body, "Santa Cruz"), _entity(body, "Bolivia")]
    santa_cruz = [p for p in resolve_places(entities, body=body) if "Santa Cruz" in p.name]
    assert [p.country_code for p in santa_cruz] == ["BO"]
    assert santa_cruz[0].location.lat < -15  # Santa Cruz de la Sierra, not California


def test_dateline_state_picks_the_other_santa_cruz() -> None:
    body = "SANTA CRUZ, Calif. — Shelters in Santa Cruz are full, the county said."
    entities = [_entity(body, "SANTA CRUZ"), _entity(body, "Santa Cruz"), _entity(body, "Calif.")]
    places = resolve_places(entities, body=body)
    assert [(p.name, p.country_code) for p in places] == [
        ("Santa Cruz", "US"),
        ("California", "US"),
    ]
    assert places[0].count == 2  # both spellings are one place


def test_countries_mentioned_decide_between_namesakes() -> None:
    alone = "Migrants arrived in Valencia on Monday."
    [place] = resolve_places([_entity(alone, "Valencia")], body=alone)
    assert place.country_code == "VE"  # the larger Valencia when nothing says otherwise
    in_spain = "Boats reached Spain; the migrants were taken to Valencia."
    entities = [_entity(in_spain, "Spain"), _entity(in_spain, "Valencia")]
    by_name = {p.name: p for p in resolve_places(entities, body=in_spain)}
    assert by_name["Valencia"].country_code == "ES"
    assert by_name["Spain"].country_code == "ES"


def test_spanish_country_names_and_aliases() -> None:
    body = "EE.UU. y Estados Unidos son lo mismo; Perú también aparece."
    entities = [_entity(body, "EE.UU."), _entity(body, "Estados Unidos"), _entity(body, "Perú")]
    places = resolve_places(entities, body=body)
    assert [(p.name, p.country_code, p.count) for p in places] == [
        ("United States", "US", 2),
        ("Peru", "PE", 1),
    ]


def test_only_places_are_resolved_and_unknown_names_skipped() -> None:
    body = "Rodrigo Delgado met Venezuelans in Xqzzyville."
    entities = [
        _entity(body, "Rodrigo Delgado", "PERSON"),
        _entity(body, "Delgado", "PERSON"),  # also a town in El Salvador: not a place here
        _entity(body, "Venezuelans", "NORP"),
        _entity(body, "Xqzzyville"),
    ]
    assert resolve_places(entities, body=body) == []
