"""Span boundaries, person evidence and Spanish demonyms: one rule per test.

Spans are given by hand, as the small models give them, so each rule is tested alone;
every text is invented for these tests.
"""

from __future__ import annotations

from pipeline.enrichment.entities import article_text, keyword_fields, refine_entities
from pipeline.enrichment.nlp import MAX_NER_CHARS
from pipeline.enrichment.ruler import get_ruler
from schemas import Entity
from tests.support import span


def _labels(entities: list[Entity]) -> dict[str, str]:
    return {e.text: e.label for e in entities}


def _surfaces(body: str, entities: list[Entity]) -> dict[str, str]:
    return {body[m.start : m.end]: e.label for e in entities for m in e.mentions}


# -- span boundaries ------------------------------------------------------------------


def test_a_known_name_inside_a_phrase_span_is_the_entity() -> None:
    body = "El presidente de Estados Unidos habló. Las autoridades de Marruecos callaron."
    spans = [
        span(body, "El presidente de Estados Unidos", "MISC"),
        span(body, "Las autoridades de Marruecos", "MISC"),
    ]
    entities = refine_entities(body, spans, language="es")
    assert _surfaces(body, entities) == {"Estados Unidos": "GPE", "Marruecos": "GPE"}
    assert _labels(entities) == {"United States": "GPE", "Morocco": "GPE"}


def test_a_longer_name_keeps_the_known_name_inside() -> None:
    body = "She studied at the University of Texas last year."
    entities = refine_entities(body, [span(body, "University of Texas", "ORG")], language="en")
    assert _surfaces(body, entities) == {"University of Texas": "ORG"}


def test_two_known_names_run_together_are_two_entities() -> None:
    title = "Donald Trump White House rejects the report"
    body = "Officials met on Monday."
    text = article_text(title, body)
    entities = refine_entities(
        body, [span(text, "Donald Trump White House", "PERSON")], language="en", title=title
    )
    assert _labels(entities) == {"Donald Trump": "PERSON", "White House": "ORG"}


def test_no_span_runs_from_the_title_into_the_body() -> None:
    title = "Guatemala recibe vuelos desde México"
    body = "El Instituto Guatemalteco de Migración abrió un albergue."
    text = article_text(title, body)
    spans = [span(text, "México\n\nEl Instituto Guatemalteco de Migración", "MISC")]
    entities = refine_entities(body, spans, language="es", title=title)
    fields = {(m.field, e.text): e.label for e in entities for m in e.mentions}
    assert fields == {
        ("title", "Guatemala"): "GPE",
        ("title", "Mexico"): "GPE",
        ("body", "Instituto Guatemalteco de Migración"): "ORG",
    }


def test_a_capitalised_article_inside_a_sentence_is_part_of_the_name() -> None:
    body = "Los detuvieron en la frontera de La Jonquera. La policía informó."
    entities = refine_entities(body, [span(body, "La Jonquera", "LOC")], language="es")
    assert [body[m.start : m.end] for e in entities for m in e.mentions] == ["La Jonquera"]
    assert keyword_fields(entities)["places"] == ["La Jonquera"]


def test_an_organisation_cut_after_its_head_word_is_joined() -> None:
    body = "Lo anunció el Ministerio de Asuntos Exteriores ayer."
    spans = [span(body, "Ministerio", "MISC"), span(body, "Asuntos Exteriores", "LOC")]
    entities = refine_entities(body, spans, language="es")
    assert _surfaces(body, entities) == {"Ministerio de Asuntos Exteriores": "ORG"}


def test_a_possessive_after_the_splits_two_organisations() -> None:
    body = "According to the UN’s International Labour Organization, work drives moves."
    given = span(body, "the UN’s International Labour Organization", "ORG")
    entities = refine_entities(body, [given], language="en")
    assert _labels(entities) == {
        "United Nations": "ORG",
        "International Labour Organization": "ORG",
    }


def test_a_photo_credit_is_no_mention_of_its_photographer_and_names_its_agency() -> None:
    body = "Agents at the fence. (AP Photo/Patrick Semansky) The wall went up, AP reported."
    spans = [span(body, "AP Photo/Patrick Semansky", "ORG"), span(body, "AP", "ORG", nth=1)]
    entities = refine_entities(body, spans, language="en")
    # The credit is split, the photographer dropped; AP is the credit's agency and the
    # story's own mention.
    assert [(e.text, e.label, e.count) for e in entities] == [("Associated Press", "ORG", 2)]
    assert [m.credit for m in entities[0].mentions] == [True, False]


def test_titles_before_a_name_are_not_the_name() -> None:
    body = "Interior Minister Gerald Darmanin met First Lady Melania Trump in Paris."
    spans = [
        span(body, "Interior Minister Gerald Darmanin", "PERSON"),
        span(body, "First Lady Melania Trump", "PERSON"),
    ]
    entities = refine_entities(body, spans, language="en")
    assert _surfaces(body, entities) == {"Gerald Darmanin": "PERSON", "Melania Trump": "PERSON"}


# -- no entity at all ------------------------------------------------------------------


def test_laws_storms_portfolios_and_hashtags_are_no_entities() -> None:
    body = (
        "The Public Health Service Act was cited after Hurricane Eta. Interior Minister "
        "Ana Ruiz posted #GivingTuesday."
    )
    spans = [
        span(body, "Public Health Service Act", "ORG"),
        span(body, "Hurricane Eta", "ORG"),
        span(body, "Interior", "ORG"),
        span(body, "Ana Ruiz", "PERSON"),
        span(body, "GivingTuesday", "PERSON"),
    ]
    entities = refine_entities(body, spans, language="en")
    assert _labels(entities) == {"Ana Ruiz": "PERSON"}


def test_a_capitalised_word_the_text_also_writes_small_is_no_person() -> None:
    title = "Naufragio frente a Libia"
    body = "El naufragio dejó 61 desaparecidos, informó Ana Ruiz."
    text = article_text(title, body)
    spans = [span(text, "Naufragio", "PER"), span(text, "Ana Ruiz", "PER")]
    entities = refine_entities(body, spans, language="es", title=title)
    assert keyword_fields(entities)["persons"] == ["Ana Ruiz"]


def test_a_surname_never_written_small_stays_a_person() -> None:
    body = "Mahathir criticised the plan. The former leader spoke in Kuala Lumpur."
    entities = refine_entities(body, [span(body, "Mahathir", "PERSON")], language="en")
    assert keyword_fields(entities)["persons"] == ["Mahathir"]


# -- person evidence --------------------------------------------------------------------


def test_a_first_name_alone_is_the_one_full_name_it_begins() -> None:
    body = "Joe Biden spoke first. Then Joe thanked the nurses."
    spans = [span(body, "Joe Biden", "PERSON"), span(body, "Joe", "PERSON", nth=1)]
    entities = refine_entities(body, spans, language="en")
    assert _labels(entities) == {"Joe Biden": "PERSON"}
    assert entities[0].count == 2


def test_a_headline_run_is_no_evidence_of_a_first_name() -> None:
    body = "France and Tunisia Hold Talks. Ministers met in Tunisia on Friday."
    spans = [
        span(body, "Tunisia Hold Talks", "PERSON"),
        span(body, "Tunisia", "PERSON", nth=1),
    ]
    labels = _labels(refine_entities(body, spans, language="en"))
    assert labels["Tunisia"] == "GPE"


def test_a_county_after_in_is_a_place() -> None:
    body = "Asylum seekers were held at barracks in Kent for months."
    entities = refine_entities(body, [span(body, "Kent", "PERSON")], language="en")
    assert _labels(entities) == {"Kent": "GPE"}
    assert keyword_fields(entities)["persons"] == []


def test_the_ruler_finds_a_town_after_in_but_not_a_first_name() -> None:
    text = "Seven people were rescued in Folkestone harbour; a ferry left for Florence."
    found = {text[s:e]: label for s, e, label in get_ruler().find(text)}
    assert found.get("Folkestone") == "GPE"
    text = "She grew up in Florence with her aunt."
    assert "Florence" not in {text[s:e] for s, e, _ in get_ruler().find(text)}


def test_the_ruler_reads_only_what_ner_reads() -> None:
    sentence = "The convoy stopped in Folkestone and in Mexico."
    assert {"Folkestone", "Mexico"} <= set(_labels(refine_entities(sentence, [], language="en")))
    beyond = "Aid arrived. " * (MAX_NER_CHARS // 12 + 1) + sentence
    assert refine_entities(beyond, [], language="en") == []


# -- Spanish demonyms: people, not adjectives -------------------------------------------


def test_spanish_demonyms_that_name_people_are_nationalities() -> None:
    body = "Llegaron 12 marroquíes y decenas de migrantes venezolanos. Chile expulsa cubanos."
    entities = refine_entities(body, [], language="es")
    assert {m: label for m, label in _surfaces(body, entities).items() if label == "NORP"} == {
        "marroquíes": "NORP",
        "venezolanos": "NORP",
        "cubanos": "NORP",
    }


def test_spanish_demonyms_used_as_adjectives_are_no_entities() -> None:
    body = "El ministro griego pidió a los países europeos ayuda para la costa libia."
    spans = [span(body, "El ministro griego", "MISC")]
    entities = refine_entities(body, spans, language="es")
    assert entities == []
    assert keyword_fields(entities)["nationalities"] == []


def test_a_short_organisation_name_is_the_one_longer_name_it_ends() -> None:
    title = "Coast guard rescues 52 people"
    body = "The Italian Coast Guard said the boat had left Libya."
    text = article_text(title, body)
    spans = [span(text, "Coast guard", "ORG"), span(text, "Italian Coast Guard", "ORG")]
    entities = refine_entities(body, spans, language="en", title=title)
    assert keyword_fields(entities)["orgs"] == ["Italian Coast Guard"]
    assert entities[0].count == 2


def test_a_mexican_state_is_found_by_its_short_name() -> None:
    body = "Families had travelled from Guerrero and Michoacán to the border."
    entities = refine_entities(body, [span(body, "Michoacán", "PERSON")], language="en")
    assert keyword_fields(entities)["persons"] == []
    assert "Michoacán" in keyword_fields(entities)["places"]


def test_a_supranational_adjective_is_a_group_not_a_nationality() -> None:
    body = "She served as the Ibero-American secretary general in Madrid."
    entities = refine_entities(body, [span(body, "Ibero", "NORP")], language="en")
    fields = keyword_fields(entities)
    assert fields["nationalities"] == []
    assert fields["groups"] == ["Ibero-Americans"]


def test_a_score_after_a_name_is_not_the_name() -> None:
    body = "Venus Williams lost to Serena. Williams 1-6, 4-6 was the final score."
    spans = [span(body, "Venus Williams", "PERSON"), span(body, "Williams 1-6", "PERSON")]
    entities = refine_entities(body, spans, language="en")
    assert _surfaces(body, entities) == {"Venus Williams": "PERSON", "Williams": "PERSON"}


def test_a_city_is_not_the_surname_of_a_run_of_capitals() -> None:
    body = "A priest was shot in Lyon, reported BFM Lyon. Lyon police said so."
    spans = [
        span(body, "Lyon", "GPE"),
        span(body, "BFM Lyon", "PERSON"),
        span(body, "Lyon", "PERSON", nth=2),
        span(body, "Lyon", "GPE", nth=1),
    ]
    spans.sort()
    entities = refine_entities(body, spans, language="en")
    assert _labels(entities)["Lyon"] == "GPE"


def test_one_word_places_of_the_lists_are_found_but_not_before_a_number() -> None:
    text = "Boats reached Lampedusa at dawn, Channel 4 reported."
    found = {text[s:e]: label for s, e, label in get_ruler().find(text)}
    assert found.get("Lampedusa") == "GPE"
    assert "Channel" not in found


def test_a_surname_the_model_missed_is_a_mention_of_the_full_name() -> None:
    title = "Ayuso critica el reparto de menores"
    body = "La presidenta regional, Isabel Díaz Ayuso, habló ayer."
    text = article_text(title, body)
    entities = refine_entities(
        body, [span(text, "Isabel Díaz Ayuso", "PER")], language="es", title=title
    )
    [person] = [e for e in entities if e.label == "PERSON"]
    assert person.text == "Isabel Díaz Ayuso"
    assert [(m.field, m.start) for m in person.mentions] == [
        ("title", 0),
        ("body", body.index("Isabel")),
    ]


def test_a_title_of_a_work_is_no_person() -> None:
    body = "The award for Young People's Literature went to a novel. Splinter Cell - Pandora sold."
    spans = [
        span(body, "Young People's Literature", "PERSON"),
        span(body, "Splinter Cell - Pandora", "PERSON"),
    ]
    assert refine_entities(body, spans, language="en") == []


# -- evidence rules, third pass ------------------------------------------------------


def test_accented_head_words_make_an_organisation() -> None:
    body = "La Confederación de Empresarios de Lugo pidió ayudas."
    given = span(body, "Confederación de Empresarios de Lugo", "LOC")
    assert _labels(refine_entities(body, [given], language="es")) == {
        "Confederación de Empresarios de Lugo": "ORG"
    }


def test_a_spanish_opener_that_is_a_common_word_is_no_name() -> None:
    title = "Tensión en el puerto tras la llegada de un barco"
    body = "Polémica respuesta del alcalde. Los vecinos protestaron."
    text = article_text(title, body)
    spans = [span(text, "Tensión", "PER"), span(text, "Polémica", "LOC")]
    assert refine_entities(body, spans, language="es", title=title) == []


def test_a_capitalised_word_used_inside_a_sentence_stays_a_name() -> None:
    body = "Tensión habló ayer. Según la prensa, Tensión es su apodo."
    spans = [span(body, "Tensión", "PER"), span(body, "Tensión", "PER", nth=1)]
    assert _labels(refine_entities(body, spans, language="es")) == {"Tensión": "PERSON"}


def test_a_portfolio_after_a_ministers_title_is_no_entity() -> None:
    body = ("La ministra de Sanidad habló con el presidente de Telefónica y el exconsejero "
            "de Empleo.")
    spans = [span(body, "Sanidad", "ORG"), span(body, "Telefónica", "ORG"),
             span(body, "Empleo", "PER")]  # fmt: skip
    assert _labels(refine_entities(body, spans, language="es")) == {"Telefónica": "ORG"}


def test_a_name_in_apposition_to_a_title_is_a_person() -> None:
    body = "El ministro de Migración, Zorvan Keltiu, defendió la medida."
    given = span(body, "Zorvan Keltiu", "LOC")
    assert _labels(refine_entities(body, [given], language="es")) == {"Zorvan Keltiu": "PERSON"}


def test_an_unknown_person_after_a_place_noun_or_preposition_is_a_place() -> None:
    body = "Los presos fueron llevados a la cárcel de Tecolumba. Otros siguen en Vrandica."
    spans = [span(body, "Tecolumba", "PER"), span(body, "Vrandica", "PER")]
    assert _labels(refine_entities(body, spans, language="es")) == {
        "Tecolumba": "GPE", "Vrandica": "GPE"
    }


def test_a_city_after_a_masculine_article_is_a_club() -> None:
    body = "El delantero del Sevilla marcó dos goles. La afición celebró en Valencia."
    spans = [span(body, "Sevilla", "LOC"), span(body, "Valencia", "LOC")]
    assert _labels(refine_entities(body, spans, language="es")) == {
        "Sevilla": "ORG", "Valencia": "GPE"
    }


def test_a_surname_the_model_called_a_place_folds_into_the_full_name() -> None:
    body = "Carlos Alcaraz ganó la final. Alcaraz dedicó la victoria a su abuelo."
    spans = [span(body, "Carlos Alcaraz", "PER"), span(body, "Alcaraz", "LOC", nth=1)]
    entities = refine_entities(body, spans, language="es")
    assert _labels(entities) == {"Carlos Alcaraz": "PERSON"}
    assert entities[0].count == 2


def test_a_name_after_an_organisation_noun_is_an_organisation() -> None:
    body = "La organización Maldonia denunció el caso. El buque Aita Lurra zarpó."
    spans = [span(body, "Maldonia", "PER"), span(body, "Aita Lurra", "PER")]
    assert _labels(refine_entities(body, spans, language="es")) == {
        "Maldonia": "ORG", "Aita Lurra": "ORG"
    }


def test_a_word_opening_a_sentence_before_a_given_name_is_not_the_name() -> None:
    body = "Vuelve Alexia Martínez tras su lesión."
    spans = [span(body, "Vuelve Alexia Martínez", "PER")]
    assert _surfaces(body, refine_entities(body, spans, language="es")) == {
        "Alexia Martínez": "PERSON"
    }


def test_a_spanish_surname_named_alone_is_found_in_the_headline() -> None:
    title = "Ayuso critica el reparto"
    body = "La oposición dice que Ayuso gobierna para unos pocos."
    text = article_text(title, body)
    spans = [span(text, "Ayuso", "PER", nth=1)]  # the model missed the headline's
    entities = refine_entities(body, spans, language="es", title=title)
    assert [(m.field, m.start) for m in entities[0].mentions] == [("title", 0), ("body", 22)]


def test_a_name_before_port_of_entry_is_a_place() -> None:
    body = "Trucks waited at the DeConcini port of entry near the Mexico border crossing."
    spans = [span(body, "DeConcini", "ORG"), span(body, "Mexico", "GPE")]
    fields = keyword_fields(refine_entities(body, spans, language="en"))
    # the value names the crossing, not the senator it is named after
    assert fields["places"] == ["DeConcini Port of Entry", "Mexico"] and fields["orgs"] == []


def test_singular_and_plural_compound_groups_are_one_value() -> None:
    body = "African Americans voted early. An African American pastor spoke."
    spans = [span(body, "African Americans", "NORP"), span(body, "African American", "NORP", 1)]
    assert keyword_fields(refine_entities(body, spans, language="en"))["nationalities"] == [
        "African Americans"
    ]


# -- Spanish false persons (fourth pass) -----------------------------------------------


def test_a_noun_and_de_at_a_sentence_start_are_not_part_of_the_name() -> None:
    body = (
        "La barca quedó varada. Fuentes de Protección Civil confirmaron el rescate. "
        "Jueces de San Fernando decidirán el lunes. Vocal de Agrotecsa desde 2020, "
        "la mujer declaró ayer. Familiares de Rosa Quintero esperaban en el muelle."
    )
    spans = [
        span(body, "Fuentes de Protección Civil", "PER"),
        span(body, "Jueces de San Fernando", "PER"),
        span(body, "Vocal de Agrotecsa", "PER"),
        span(body, "Familiares de Rosa Quintero", "PER"),
    ]
    surfaces = _surfaces(body, refine_entities(body, spans, language="es"))
    assert surfaces == {
        "Protección Civil": "ORG",  # an institution: common words, no given name
        "San Fernando": "GPE",  # the town the gazetteer knows
        "Agrotecsa": "ORG",  # whose member she is
        "Rosa Quintero": "PERSON",  # a full name stays a person
    }


def test_a_participle_of_movement_and_de_make_the_name_a_place() -> None:
    body = "Los caminantes cruzaron el puerto. Llegados de Orbaitzeta, descansaron."
    entities = refine_entities(body, [span(body, "Llegados de Orbaitzeta", "PER")], language="es")
    assert _surfaces(body, entities) == {"Orbaitzeta": "GPE"}


def test_a_name_after_words_of_origin_is_a_place() -> None:
    body = "La lancha había salido de Tiguert con treinta personas a bordo."
    entities = refine_entities(body, [span(body, "Tiguert", "PER")], language="es")
    assert _surfaces(body, entities) == {"Tiguert": "GPE"}
    body = "El detenido, vecino de Tiguert, tiene 40 años."
    entities = refine_entities(body, [span(body, "Tiguert", "PER")], language="es")
    assert _surfaces(body, entities) == {"Tiguert": "GPE"}


def test_a_given_name_left_out_at_a_sentence_start_joins_the_surname() -> None:
    body = "Llega el otoño. Rosa Iturbide presentó ayer su libro."
    entities = refine_entities(body, [span(body, "Iturbide", "PER")], language="es")
    assert _surfaces(body, entities) == {"Rosa Iturbide": "PERSON"}


def test_a_given_name_that_begins_organisations_still_names_a_person() -> None:
    body = "Marina Ezcurra ganó el premio. La Marina Militar no participó."
    spans = [span(body, "Marina Ezcurra", "PER"), span(body, "Marina Militar", "PER")]
    entities = refine_entities(body, spans, language="es")
    assert _surfaces(body, entities) == {"Marina Ezcurra": "PERSON", "Marina Militar": "ORG"}


def test_a_saints_name_of_several_words_is_a_place() -> None:
    body = "Los vecinos de la sierra bajaron ayer a Santa Olalla del Monte para votar."
    entities = refine_entities(body, [span(body, "Santa Olalla del Monte", "PER")], language="es")
    assert _surfaces(body, entities) == {"Santa Olalla del Monte": "GPE"}


def test_a_town_of_several_words_that_starts_with_a_given_name_is_the_town() -> None:
    # "Beni" is a given name, but "Beni Mellal" as a whole is a large city.
    body = "Los jornaleros viajaron hasta Beni Mellal para la campaña."
    entities = refine_entities(body, [span(body, "Beni Mellal", "PER")], language="es")
    assert _labels(entities) == {"Beni Mellal": "GPE"}


def test_a_plural_participle_is_no_persons_name() -> None:
    body = "La Oficina de Asilo y Refugiados publicó las cifras del año."
    spans = [span(body, "Oficina de Asilo", "ORG"), span(body, "Refugiados", "PER")]
    entities = refine_entities(body, spans, language="es")
    assert "PERSON" not in _labels(entities).values()


def test_a_small_town_named_like_a_word_does_not_save_a_sentence_opener() -> None:
    # "Fiscal" is also a village; at a sentence start it is the noun.
    body = "Fiscal y defensa pidieron más tiempo al tribunal."
    entities = refine_entities(body, [span(body, "Fiscal", "PER")], language="es")
    assert entities == []


def test_a_headline_word_the_body_never_names_again_is_no_person() -> None:
    title = "Vantora rodará en Asturias una serie sobre la emigración"
    body = "La plataforma rodará en Llanes durante el verano. La guionista es Sara Antuña."
    text = article_text(title, body)
    spans = [span(text, "Vantora", "PER"), span(text, "Sara Antuña", "PER")]
    entities = refine_entities(body, spans, language="es", title=title)
    assert "Vantora" not in _labels(entities)
    assert _labels(entities)["Sara Antuña"] == "PERSON"


def test_a_headline_surname_the_body_names_in_full_stays_a_person() -> None:
    title = "Urquiaga critica el recorte"
    body = "La consejera Ana Urquiaga habló en el pleno. Urquiaga pidió más fondos."
    text = article_text(title, body)
    spans = [span(text, "Urquiaga", "PER"), span(text, "Ana Urquiaga", "PER")]
    entities = refine_entities(body, spans, language="es", title=title)
    assert _labels(entities) == {"Ana Urquiaga": "PERSON"}


def test_a_place_noun_with_an_adjective_before_de_makes_a_place() -> None:
    body = "La lancha zarpó del puerto libio de Sabrata. Bajaron en la estación de Ozurri."
    spans = [span(body, "Sabrata", "PER"), span(body, "Ozurri", "PER")]
    entities = refine_entities(body, spans, language="es")
    assert _labels(entities) == {"Sabrata": "GPE", "Ozurri": "GPE"}


# -- evidence read from the words around a name (fifth pass) -------------------------------


def test_a_word_ending_a_sentence_is_no_title() -> None:
    body = "Los sindicatos anunciaron un paro general. Inversores extranjeros temen pérdidas."
    spans = [span(body, "Inversores", "LOC")]
    assert refine_entities(body, spans, language="es") == []  # an opener, not "General X"
    titled = "Lo dijo el Gen. Ortuño en la base."
    assert _labels(refine_entities(titled, [span(titled, "Ortuño", "PER")], language="es")) == {
        "Ortuño": "PERSON"
    }


def test_a_facility_noun_names_a_place_after_someone() -> None:
    body = "Reabren el puente Tomás Argüello y la central Lucía Oramas tras la avería."
    spans = [span(body, "Tomás Argüello", "PER"), span(body, "Lucía Oramas", "PER")]
    labels = _labels(refine_entities(body, spans, language="es"))
    assert labels == {"Tomás Argüello": "FAC", "Lucía Oramas": "FAC"}


def test_a_centre_back_is_no_power_plant() -> None:
    body = "El club presentó al central Tomás Argüello ante la prensa."
    spans = [span(body, "Tomás Argüello", "PER")]
    assert _labels(refine_entities(body, spans, language="es")) == {"Tomás Argüello": "PERSON"}


def test_where_people_are_taken_is_a_place() -> None:
    taken = "Los rescatados fueron trasladados a Quelbara en autobús."
    spans = [span(taken, "Quelbara", "PER")]
    assert _labels(refine_entities(taken, spans, language="es")) == {"Quelbara": "GPE"}
    accused = "La fiscal acusó a Quelbara de mentir."  # the personal "a": a person
    spans = [span(accused, "Quelbara", "PER")]
    assert _labels(refine_entities(accused, spans, language="es")) == {"Quelbara": "PERSON"}


def test_the_second_of_two_joined_places_is_a_place() -> None:
    body = "Los centros de Vorkala y Ombrisse acogerán a 300 personas."
    spans = [span(body, "Vorkala", "PER"), span(body, "Ombrisse", "PER")]
    assert _labels(refine_entities(body, spans, language="es")) == {
        "Vorkala": "GPE", "Ombrisse": "GPE"
    }  # fmt: skip


def test_an_org_noun_in_apposition_names_an_org() -> None:
    body = "La empresa gestora, Velmora, niega las acusaciones."
    spans = [span(body, "Velmora", "PER")]
    assert _labels(refine_entities(body, spans, language="es")) == {"Velmora": "ORG"}


def test_a_spanish_name_after_an_article_is_no_person() -> None:
    body = "Según la Ombrela, las lluvias seguirán. Marta Quiroga lo confirmó."
    spans = [span(body, "Ombrela", "PER"), span(body, "Marta Quiroga", "PER")]
    labels = _labels(refine_entities(body, spans, language="es"))
    assert labels == {"Ombrela": "ORG", "Marta Quiroga": "PERSON"}


def test_an_english_person_span_keeps_only_the_name() -> None:
    body = (
        "Rep. Dana Morrow (@DanaMorrowTX) replied.\n\nFollow us on Twitter Ellen Parr\n\n"
        "Kevin Lanford Warns OF Delays\n\nMartin Luther King Jr. marched."
    )
    spans = [
        span(body, "Dana Morrow (@DanaMorrowTX", "PERSON"),
        span(body, "Twitter Ellen Parr", "PERSON"),
        span(body, "Kevin Lanford Warns OF", "PERSON"),
        span(body, "Martin Luther King Jr.", "PERSON"),
    ]
    persons = keyword_fields(refine_entities(body, spans, language="en"))["persons"]
    assert persons == ["Dana Morrow", "Ellen Parr", "Kevin Lanford", "Martin Luther King Jr."]


def test_a_city_named_in_another_language_is_no_person() -> None:
    body = "Lo confirmaron fuentes de Fráncfort. Marta Quiroga lo dijo."
    spans = [span(body, "Fráncfort", "PER"), span(body, "Marta Quiroga", "PER")]
    labels = _labels(refine_entities(body, spans, language="es"))
    assert labels == {"Frankfurt am Main": "GPE", "Marta Quiroga": "PERSON"}  # geonames' name
