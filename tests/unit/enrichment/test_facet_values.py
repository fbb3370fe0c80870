"""One facet value per referent, and only mentions as values: credits and bylines are no
mentions (the agency a credit names is the story's source, in ``agencies``), places and
peoples have one name across articles and languages, parties and attitudes are no
nationalities.

Spans are given by hand, as the small models give them, so each rule is tested alone;
every text is invented for these tests.
"""

from __future__ import annotations

from pipeline.enrichment.entities import keyword_fields, refine_entities
from pipeline.enrichment.gazetteer import get_gazetteer
from pipeline.enrichment.geo import resolve_places
from pipeline.enrichment.lexicon import get_lexicon
from schemas import Entity
from tests.support import span


def _fields(body: str, spans: list[tuple[int, int, str]], language: str = "en") -> dict:
    return keyword_fields(refine_entities(body, spans, language=language))


# -- credits, datelines and bylines are no mentions; their agencies are the source -----------


def _credits(entity: Entity) -> list[bool]:
    return [m.credit for m in entity.mentions]


def test_a_bracketed_photo_credit_names_its_agency_and_no_one_else() -> None:
    body = (
        "Families waited at the gate [File: Marta Quill/Reuters]\n\n"
        "Volunteers handed out water [Tom Hale/AP Photo]\n\n"
        "Later, Marta Quill told Reuters the queue had grown."
    )
    spans = [
        span(body, "Marta Quill", "PERSON"), span(body, "Reuters", "ORG"),
        span(body, "Tom Hale", "PERSON"), span(body, "AP Photo", "ORG"),
        span(body, "Marta Quill", "PERSON", nth=1), span(body, "Reuters", "ORG", nth=1),
    ]  # fmt: skip
    entities = refine_entities(body, spans, language="en")
    fields = keyword_fields(entities)
    assert fields["persons"] == ["Marta Quill"]  # she is also in the story
    assert fields["orgs"] == ["Reuters"]  # "told Reuters"
    assert fields["agencies"] == ["Reuters", "Associated Press"]  # "AP", not "AP Photo"
    by_name = {e.text: e for e in entities}
    assert by_name["Marta Quill"].count == 1  # the photographer's credit is no mention
    assert _credits(by_name["Reuters"]) == [True, False]
    assert _credits(by_name["Associated Press"]) == [True]


def test_a_credit_after_a_slash_names_no_one_but_two_sponsors_of_a_poll_stay() -> None:
    body = (
        "A crowd gathered downtown. Ana Velder/The Washington Post\n\n"
        "A NBC News/Wall Street Journal poll found support had fallen."
    )
    spans = [
        span(body, "Ana Velder", "PERSON"), span(body, "The Washington Post", "ORG"),
        span(body, "NBC News", "ORG"), span(body, "Wall Street Journal", "ORG"),
    ]  # fmt: skip
    fields = _fields(body, spans)
    assert fields["persons"] == []
    assert fields["orgs"] == ["NBC News", "Wall Street Journal"]
    assert fields["agencies"] == ["The Washington Post"]  # the picture's, not the poll's


def test_a_caption_credit_names_no_one_but_a_caption_describing_people_does() -> None:
    body = (
        "Photograph: Lina Ostrov/Getty Images\n\n"
        "Photo: Lina Ostrov meets volunteers in Calais.\n\nThe camp was cleared."
    )
    spans = [span(body, "Lina Ostrov", "PERSON"), span(body, "Getty Images", "ORG"),
             span(body, "Lina Ostrov", "PERSON", nth=1)]  # fmt: skip
    entities = refine_entities(body, spans, language="en")
    assert [(e.text, e.count) for e in entities if e.label == "PERSON"] == [("Lina Ostrov", 1)]
    fields = keyword_fields(entities)
    assert fields["agencies"] == ["Getty Images"] and fields["orgs"] == []


def test_a_dateline_agency_is_the_source_not_an_org_but_an_abbreviation_in_a_sentence_is() -> None:
    body = (
        "PORTLAND, Ore. (AP) — Shelters filled on Sunday.\n\n"
        "The UN Refugee Agency (UNHCR). Its staff counted arrivals."
    )
    spans = [span(body, "AP", "ORG"), span(body, "UNHCR", "ORG")]
    entities = refine_entities(body, spans, language="en")
    fields = keyword_fields(entities)
    assert fields["orgs"] == ["UNHCR"]
    assert fields["agencies"] == ["Associated Press"]  # one value: "AP" is its listed name
    ap = next(e for e in entities if e.text == "Associated Press")
    assert ap.label == "ORG" and body[ap.mentions[0].start : ap.mentions[0].end] == "AP"


def test_an_agency_of_the_dateline_also_named_in_the_story_is_in_both_fields() -> None:
    body = "Quito, 4 jun (EFE).\n\nEl ministro habló con la agencia EFE.\n\nEFE mj-lp"
    spans = [span(body, "EFE", "ORG"), span(body, "EFE", "ORG", nth=1),
             span(body, "EFE", "ORG", nth=2)]  # fmt: skip
    entities = refine_entities(body, spans, language="es")
    assert [e.text for e in entities] == ["EFE"]
    assert _credits(entities[0]) == [True, False, True]  # dateline, sentence, signature
    fields = keyword_fields(entities)
    assert fields["orgs"] == ["EFE"] and fields["agencies"] == ["EFE"]


def test_a_dateline_agency_is_found_where_the_model_missed_it_even_spaced_out() -> None:
    # CoNLL-2002 writes its datelines token by token: "Lima , 23 may ( EFE ) ."
    body = "Lima , 23 may ( EFE ) .\nLa Cruz Roja atendió a 30 personas en la frontera ."
    fields = _fields(body, [span(body, "Cruz Roja", "ORG")], "es")
    assert fields["agencies"] == ["EFE"] and fields["orgs"] == ["Red Cross"]
    entities = refine_entities(body, [], language="es")
    efe = next(e for e in entities if e.text == "EFE")
    assert (efe.label, body[efe.mentions[0].start : efe.mentions[0].end]) == ("ORG", "EFE")


def test_a_bracketed_name_alone_on_its_line_is_a_heading_not_a_dateline() -> None:
    # An agenda item's headings: "(PP)." is the party the item is about, not its source.
    body = "(PP).\n\n- Mérida.\n\n- El portavoz del PP presentará hoy las enmiendas."
    spans = [span(body, "PP", "ORG"), span(body, "PP", "ORG", nth=1)]
    fields = _fields(body, spans, "es")
    assert fields["agencies"] == [] and fields["orgs"] == ["PP"]
    for story in ("(CNN)The border town reopened its shelter on Monday.",
                  "(CNN) —\n\nThe border town reopened its shelter on Monday."):  # fmt: skip
        assert _fields(story, [span(story, "CNN", "ORG")])["agencies"] == ["CNN"], story
    wire = "(EFE).\n\n- El albergue de la frontera reabrió el lunes."  # a wire's own credit
    assert _fields(wire, [span(wire, "EFE", "ORG")], "es")["agencies"] == ["EFE"]


def test_a_quoted_title_with_a_slash_is_no_credit() -> None:
    body = 'The festival opens with "MLK/FBI", a documentary, and closes with a drama.'
    assert _fields(body, [span(body, "FBI", "ORG")])["agencies"] == []
    caption = "Marchers carry a sign that reads 'Unity'. Ana Ruiz/AP\n\nThe march ended."
    assert _fields(caption, [span(caption, "Ana Ruiz", "PERSON")])["agencies"] == [
        "Associated Press"
    ]


def test_agencies_of_a_credit_chain_are_each_one_value_and_unlisted_ones_as_written() -> None:
    body = (
        "Rescuers reached the boat. Photograph: Ines Varga/EPA-EFE/Shutterstock\n\n"
        "Tents in the square. Olek Brand/NurPhoto via Getty Images\n\n"
        "Queues at noon [Ana Lund for the Washington Post/Getty Images] grew."
    )
    spans = [span(body, "Ines Varga", "PERSON"), span(body, "Olek Brand", "PERSON")]
    entities = refine_entities(body, spans, language="en")
    fields = keyword_fields(entities)
    assert fields["persons"] == [] and fields["orgs"] == []
    assert fields["agencies"] == [
        "EPA", "EFE", "Shutterstock", "NurPhoto", "Getty Images", "The Washington Post"
    ]
    post = next(e for e in entities if e.text == "The Washington Post")
    # Read by two patterns, named once, without its lowercase "the".
    assert [body[m.start : m.end] for m in post.mentions] == ["Washington Post"]


def test_bylines_and_author_notes_name_no_one() -> None:
    body = (
        "By Corin Maple\n\nThe caravan reached the border.\n\n"
        "Corin Maple is a reporter for the Valley Ledger.\n\n"
        "Follow Dana Roux on Twitter: @droux"
    )
    spans = [span(body, "Corin Maple", "PERSON"), span(body, "Corin Maple", "PERSON", nth=1),
             span(body, "Dana Roux", "PERSON")]  # fmt: skip
    assert _fields(body, spans)["persons"] == []


# -- one value per place and per people, in both languages ----------------------------------


def test_a_place_has_one_name_across_languages_and_spellings() -> None:
    gaz = get_gazetteer()
    assert gaz.canonical_place("Londres") == "London"  # a Spanish name of a large city
    assert gaz.canonical_place("Milán") == "Milan"  # the city's own name, spelt its way
    assert gaz.canonical_place("Europa") == "Europe"  # a continent
    assert gaz.canonical_place("Gales") == "Wales"  # a nation of the United Kingdom
    assert gaz.canonical_place("EE.UU.") == "United States"
    # Two large cities spell it differently, and a city's own name is not an alias.
    assert gaz.canonical_place("San José") == "San José"
    assert gaz.canonical_place("New Delhi") == "New Delhi"
    body = "Cientos de personas marcharon en Londres y en Milán, lejos de Europa."
    spans = [span(body, "Londres", "LOC"), span(body, "Milán", "LOC"), span(body, "Europa", "LOC")]
    assert _fields(body, spans, "es")["places"] == ["London", "Milan", "Europe"]


def test_a_listed_place_keeps_its_own_name() -> None:
    body = "Fire swept through Moria overnight."  # also an old name of a large city
    assert _fields(body, [span(body, "Moria", "GPE")])["places"] == ["Moria"]


def test_a_world_region_has_one_name_in_both_languages() -> None:
    es = "La ruta une América Latina con Oriente Medio."
    en = "The route links Latin America with the Middle East."
    es_spans = [span(es, "América Latina", "LOC"), span(es, "Oriente Medio", "LOC")]
    en_spans = [span(en, "Latin America", "LOC"), span(en, "Middle East", "LOC")]
    assert _fields(es, es_spans, "es")["places"] == ["Latin America", "Middle East"]
    assert _fields(en, en_spans)["places"] == ["Latin America", "Middle East"]


def test_a_people_has_one_name_in_both_languages() -> None:
    es = "Los venezolanos piden asilo."
    en = "Venezuelans ask for asylum."
    assert _fields(es, [span(es, "venezolanos", "MISC")], "es")["nationalities"] == [
        "Venezuelans"
    ]
    assert _fields(en, [span(en, "Venezuelans", "NORP")])["nationalities"] == ["Venezuelans"]


def test_unlisted_peoples_have_one_value_for_singular_and_plural() -> None:
    body = (
        "A Cuban-American lawyer and two Cuban Americans spoke. A Chechen family and other "
        "Chechens joined Kalmyk elders."
    )
    spans = [
        span(body, "Cuban-American", "NORP"), span(body, "Cuban Americans", "NORP"),
        span(body, "Chechen", "NORP"), span(body, "Chechens", "NORP"),
        span(body, "Kalmyk", "NORP"),
    ]  # fmt: skip
    assert _fields(body, spans)["nationalities"] == ["Cuban Americans", "Chechens", "Kalmyk"]


def test_directions_attitudes_and_politics_are_no_nationalities() -> None:
    body = (
        "Western leaders condemned the anti-Asian and pro-European slogans; Socialists and "
        "a Zionist group marched."
    )
    spans = [
        span(body, "Western", "NORP"), span(body, "anti-Asian", "NORP"),
        span(body, "pro-European", "NORP"), span(body, "Socialists", "NORP"),
        span(body, "Zionist", "NORP"),
    ]  # fmt: skip
    fields = _fields(body, spans)
    assert fields["nationalities"] == []
    assert fields["groups"] == ["Socialists", "Zionists"]  # one value for both numbers


# -- organisations: variants of a listed name, short forms, headline words ------------------


def test_a_listed_organisation_is_found_without_its_articles() -> None:
    lexicon = get_lexicon()
    known = lexicon.lookup("Organización de Estados Americanos")  # listed with "de los"
    assert known is not None and known.canonical == "Organization of American States"
    assert lexicon.lookup("Estados Americanos") is None  # articles only, no other words


def test_a_short_form_of_an_organisation_is_the_one_longer_name_it_ends() -> None:
    body = "The Harbor Evening Times reported the raid. The Times said four were held."
    spans = [span(body, "The Harbor Evening Times", "ORG"), span(body, "Times", "ORG", nth=1)]
    entities = refine_entities(body, spans, language="en")
    assert [(e.text, e.count) for e in entities] == [("Harbor Evening Times", 2)]


def test_headline_words_in_capitals_and_markers_are_no_names() -> None:
    body = "DESALOJAN A CIEN PERSONAS DEL EDIFICIO\n\nEn el Min.70 marcó Lucas Bravo."
    spans = [span(body, "PERSONAS", "ORG"), span(body, "Min.70", "PER"),
             span(body, "Lucas Bravo", "PER")]  # fmt: skip
    fields = _fields(body, spans, "es")
    assert fields["orgs"] == []
    assert fields["persons"] == ["Lucas Bravo"]


# -- one field per value, one value per referent -------------------------------------------


def test_a_surname_the_model_calls_a_people_is_the_person() -> None:
    body = "Hamid Tovarian spoke first. Later Tovarian said the Chechen families had waited."
    spans = [
        span(body, "Hamid Tovarian", "PERSON"), span(body, "Tovarian", "NORP", nth=1),
        span(body, "Chechen", "NORP"),
    ]  # fmt: skip
    entities = refine_entities(body, spans, language="en")
    person = next(e for e in entities if e.label == "PERSON")
    assert (person.text, person.count) == ("Hamid Tovarian", 2)
    assert keyword_fields(entities)["nationalities"] == ["Chechens"]


def test_a_party_is_an_org_and_its_members_a_group() -> None:
    body = "El PP y el Partido Socialista pactaron; los populares celebraron el acuerdo."
    spans = [span(body, "PP", "ORG"), span(body, "Partido Socialista", "ORG")]
    fields = _fields(body, spans, language="es")
    assert fields["orgs"] == ["PP", "PSOE"] and fields["groups"] == []
    fields = _fields(body, [*spans, span(body, "populares", "NORP")], language="es")
    assert fields["orgs"] == ["PP", "PSOE"] and fields["groups"] == ["PP"]  # the members


def test_an_agency_written_as_a_word_is_its_acronym() -> None:
    body = "Lima, 3 jun. La agencia Efe informó; según la Otan, la cumbre sigue."
    spans = [span(body, "Efe", "ORG"), span(body, "Otan", "ORG")]
    assert _fields(body, spans, language="es")["orgs"] == ["EFE", "NATO"]


def test_a_title_case_word_is_no_acronym_unless_the_model_reads_an_org() -> None:
    body = "Un migrante llegó. Ice formed on the road."
    spans = [span(body, "Un", "MISC"), span(body, "Ice", "PERSON")]
    assert _fields(body, spans)["orgs"] == []


def test_washington_is_the_capital_unless_the_state_is_said() -> None:
    capital = "Lawmakers in Washington voted."
    state = "Farms in Washington state hire seasonal workers; Washington had a dry year."
    assert _fields(capital, [span(capital, "Washington", "GPE")])["places"] == [
        "Washington, D.C."
    ]
    spans = [span(state, "Washington", "GPE"), span(state, "Washington", "GPE", nth=1)]
    assert _fields(state, spans)["places"] == ["Washington State"]


def test_new_york_is_the_city_in_every_spelling_unless_the_state_is_said() -> None:
    body = "Shelters in New York filled; New York City opened gyms. NYC asked for help."
    spans = [span(body, "New York", "GPE"), span(body, "New York City", "GPE"),
             span(body, "NYC", "GPE")]  # fmt: skip
    assert _fields(body, spans)["places"] == ["New York City"]
    body = "Llegaron a Nueva York en autobús."
    assert _fields(body, [span(body, "Nueva York", "GPE")], "es")["places"] == ["New York City"]
    body = "Marches in Washington DC and Washington, D.C. and in D.C. went on."
    spans = [span(body, "Washington DC", "GPE"), span(body, "Washington, D.C.", "GPE"),
             span(body, "D.C.", "GPE", nth=1)]  # fmt: skip
    assert _fields(body, spans)["places"] == ["Washington, D.C."]
    body = "Buses left for upstate New York. ALBANY, N.Y. officials agreed."
    spans = [span(body, "New York", "GPE"), span(body, "N.Y.", "GPE")]
    assert _fields(body, spans)["places"] == ["New York State"]


def test_the_city_and_the_state_values_are_on_the_map() -> None:
    body = "Lawmakers in Washington met officials from New York state and New York City."
    spans = [span(body, "Washington", "GPE"), span(body, "New York", "GPE"),
             span(body, "New York City", "GPE")]  # fmt: skip
    entities = refine_entities(body, spans, language="en")
    places = {p.name: (p.country_code, p.location.lat) for p in resolve_places(entities, body=body)}
    assert set(places) == {"Washington, D.C.", "New York State", "New York City"}
    assert 38 < places["Washington, D.C."][1] < 39.5  # the capital, not the state up north
    assert all(code == "US" for code, _ in places.values())


def test_latinos_are_not_latin_americans() -> None:
    body = "Latino voters and Hispanic families met Latin American diplomats."
    spans = [
        span(body, "Latino", "NORP"), span(body, "Hispanic", "NORP"),
        span(body, "Latin American", "NORP"),
    ]  # fmt: skip
    assert _fields(body, spans)["nationalities"] == ["Latinos", "Latin Americans"]


def test_a_federation_cut_before_its_sport_is_one_org() -> None:
    body = "La Real Federación Española de Fútbol sancionó al jugador de España."
    spans = [
        span(body, "Real Federación Española", "ORG"), span(body, "Fútbol", "PER"),
        span(body, "España", "LOC"),
    ]  # fmt: skip
    fields = _fields(body, spans, language="es")
    assert fields["persons"] == []
    assert fields["orgs"] == ["Real Federación Española de Fútbol"]
    assert fields["places"] == ["Spain"]


def test_a_title_case_headline_is_no_person() -> None:
    body = "Legal Challenges Mount\n\nQuick Fix talks stalled, Mark Dunbar said."
    spans = [
        span(body, "Legal Challenges", "PERSON"), span(body, "Quick Fix", "PERSON"),
        span(body, "Mark Dunbar", "PERSON"),
    ]  # fmt: skip
    assert _fields(body, spans)["persons"] == ["Mark Dunbar"]  # a given name first: a name


def test_an_acronym_org_keeps_its_capitals() -> None:
    body = "La banda ETA anunció una tregua; la CGT convocó un paro."
    spans = [span(body, "ETA", "ORG"), span(body, "CGT", "ORG")]
    assert _fields(body, spans, language="es")["orgs"] == ["ETA", "CGT"]
