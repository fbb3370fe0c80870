"""Lexicon behaviours of the tagging rules, one per word list or veto: deaths said the short
way, "frente a" as a place and not a war front, displacement that is not people leaving home
(earth movement, a night away, holidaymakers), hostile words, labour exploitation, arraigo.
All texts are invented."""

from __future__ import annotations

import pytest

from pipeline.enrichment.tagging import Tagger, TagResult, load_tagger


@pytest.fixture(scope="module")
def rules() -> Tagger:
    return load_tagger(model=False)


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return load_tagger()


def _tag(tagger: Tagger, body: str, lang: str, title: str | None = None) -> TagResult:
    return tagger.tag(title=title, body=body, language=lang, entities=[])


def _topics(result: TagResult) -> set[str]:
    return {t.id for t in result.topics}


DEATHS = {
    "es: muere": ("es", "Muere un migrante guineano al intentar saltar la valla de Melilla "
                        "durante la madrugada."),
    "es: de sed": ("es", "Dos niños de una patera con 40 migrantes murieron de sed antes de "
                         "que llegara el rescate."),
    "es: frente a": ("es", "Hallan los cuerpos de doce migrantes en una lancha a la deriva "
                           "frente a la costa de Mauritania."),
    "en: killing": ("en", "A dinghy carrying 30 migrants sank off Lesbos, killing nine of them, "
                          "the coastguard said."),
    "en: thirst": ("en", "Two migrants died of thirst after smugglers left their group in the "
                         "desert near the border."),
}


@pytest.mark.parametrize("kind", sorted(DEATHS))
def test_short_death_phrasings_tag_migrant_deaths(rules: Tagger, kind: str) -> None:
    lang, body = DEATHS[kind]
    result = _tag(rules, body, lang)
    assert result.migration_related
    assert "migrant_deaths_missing" in _topics(result)
    cues = [e.cue.lower() for t in result.topics if t.id == "migrant_deaths_missing"
            for e in t.evidence]  # fmt: skip
    assert cues, "a tag carries the words that made it fire"


def test_a_war_front_still_vetoes_a_death_cue(rules: Tagger) -> None:
    # The conflict veto keeps soldiers killed at the front out of migrant deaths; only the
    # place sense of "frente a" was dropped.
    body = "Los combates en la línea del frente dejaron 40 muertos entre los desplazados."
    assert "migrant_deaths_missing" not in _topics(_tag(rules, body, "es"))


NOT_DISPLACEMENT = {
    "es: earth movement": ("es", "Un desplazamiento de tierras tras las lluvias obliga a cortar "
                                 "la carretera que da acceso a dos aldeas."),
    "es: a few hours": ("es", "Unos 300 turistas fueron evacuados de un camping por un incendio "
                              "forestal y volvieron al día siguiente."),
    "es: nobody left": ("es", "La riada inundó los bajos del pueblo, pero los vecinos no tuvieron "
                              "que abandonar sus casas."),
    "en: holidaymakers": ("en", "Some 2,000 holidaymakers were evacuated from campsites as a "
                                "wildfire approached; most returned the next day."),
    "en: precaution": ("en", "Residents of two streets were evacuated as a precaution after the "
                             "storm loosened a crane, and spent the night in a sports hall."),
}


@pytest.mark.parametrize("kind", sorted(NOT_DISPLACEMENT))
def test_displacement_lookalikes_are_recognised(rules: Tagger, tagger: Tagger, kind: str) -> None:
    lang, body = NOT_DISPLACEMENT[kind]
    by_rules = _tag(rules, body, lang)
    assert not by_rules.migration_related
    assert not _topics(by_rules) & {"internal_displacement", "climate_migration"}
    assert by_rules.lookalike > 0, "the vetoed cue counts as evidence against"
    # A short item the rules recognised as a look-alike stays out whatever the model says.
    assert not _tag(tagger, body, lang).migration_related


@pytest.mark.parametrize(
    ("lang", "body"),
    [
        ("en", "Floods have displaced 40,000 people in northern Nigeria, and families forced "
               "from their homes are sleeping in schools."),
        ("es", "Los combates entre bandas armadas han desplazado a 5.000 personas, que huyeron "
               "de sus casas y duermen en escuelas."),
    ],
)  # fmt: skip
def test_real_displacement_still_fires(rules: Tagger, lang: str, body: str) -> None:
    result = _tag(rules, body, lang)
    assert result.migration_related
    assert _topics(result) & {"internal_displacement", "climate_migration"}


@pytest.mark.parametrize(
    ("lang", "body"),
    [
        ("es", "Un concejal llamó 'invasores' a los inmigrantes del barrio durante el pleno."),
        ("es", "Las asociaciones denuncian la hostilidad de algunos vecinos hacia los "
               "inmigrantes del barrio."),
        ("en", "The candidate called migrants invaders and spread hatred against refugees at "
               "every rally."),
        ("en", "Vandals sprayed graffiti and threats on a hostel for refugees, in what police "
               "treat as a racist incident."),
    ],
)  # fmt: skip
def test_hostile_words_tag_xenophobia(rules: Tagger, lang: str, body: str) -> None:
    assert "anti_immigrant_protest_xenophobia" in _topics(_tag(rules, body, lang))


def test_hostile_words_need_migrants_near(rules: Tagger) -> None:
    body = "The striker said the hostility from the away fans was hateful and the club agreed."
    assert "anti_immigrant_protest_xenophobia" not in _topics(_tag(rules, body, "en"))


@pytest.mark.parametrize(
    ("lang", "body"),
    [
        ("es", "La policía desarticula una red que sometía a inmigrantes a explotación laboral "
               "en los invernaderos."),
        ("en", "Inspectors found migrant workers held in forced labour on a farm, their "
               "passports taken."),
    ],
)  # fmt: skip
def test_labour_exploitation_of_migrants_is_trafficking(
    rules: Tagger, lang: str, body: str
) -> None:
    assert "smuggling_trafficking" in _topics(_tag(rules, body, lang))


def test_labour_exploitation_without_migrants_is_not(rules: Tagger) -> None:
    body = "The court heard that the factory owner subjected apprentices to forced labour."
    assert "smuggling_trafficking" not in _topics(_tag(rules, body, "en"))


def test_arraigo_is_integration(rules: Tagger) -> None:
    body = "Los inmigrantes que lleven dos años en España podrán pedir el arraigo."
    assert "integration_citizenship" in _topics(_tag(rules, body, "es"))


@pytest.mark.parametrize(
    ("lang", "body"),
    [
        ("en", "The president of the island appealed for help after 2,000 Senegalese migrants "
               "arrived by boat over the weekend."),
        ("es", "Tensión en el pueblo por la llegada de migrantes venezolanos desde Bolivia."),
    ],
)  # fmt: skip
def test_a_head_of_government_or_tension_near_migrants_is_not_diplomacy(
    rules: Tagger, lang: str, body: str
) -> None:
    assert "migration_diplomacy_cooperation" not in _topics(_tag(rules, body, lang))


def test_a_deal_between_states_on_migrants_is_diplomacy(rules: Tagger) -> None:
    body = ("Spain and Senegal signed an agreement to curb migration, with joint patrols "
            "against smugglers.")
    assert "migration_diplomacy_cooperation" in _topics(_tag(rules, body, "en"))


# --- fifth pass: xenophobia, integration and diplomacy said the way reporters say them ----

XENOPHOBIA = {
    "en: violence against": ("en", "Charities recorded a rise in violence against migrants in "
                                   "the port city after the local election."),
    "en: hostility towards": ("en", "A survey found growing hostility towards refugees among "
                                    "older voters in the region."),
    "en: firebombed home": ("en", "A refugee family escaped unhurt after their home was "
                                  "firebombed overnight; police suspect a hate crime."),
    "en: residents protest": ("en", "Residents protested against plans to house 200 asylum "
                                    "seekers in a former barracks on the edge of town."),
    "en: told to go home": ("en", "Polish migrants said they had been told to go home by "
                                  "strangers in the street since the referendum."),
    "es: patrullas ciudadanas": ("es", "Patrullas ciudadanas armadas con palos persiguen de "
                                       "noche a los migrantes en los bosques de la frontera."),
    "es: contra la apertura": ("es", "Un centenar de vecinos se concentró contra la apertura de "
                                     "un centro para solicitantes de asilo en el barrio."),
    "es: molotov": ("es", "Tres jóvenes lanzaron cócteles molotov contra un albergue de "
                          "refugiados en el que dormían sesenta personas."),
    "es: discriminación a": ("es", "Un estudio revela la discriminación a inquilinos "
                                   "extranjeros: las agencias rechazan a los inmigrantes con "
                                   "acento latinoamericano."),
}


@pytest.mark.parametrize(
    ("lang", "body"),
    [
        # Solidarity, not hostility.
        ("en", "Thousands marched under 'refugees welcome' banners to ask the government to "
               "take in more refugees."),
        # The same violent words, with no migrant in sight.
        ("en", "The pub was firebombed overnight and residents protested against plans to "
               "close the library."),
        ("es", "Los vecinos se concentraron contra la apertura de un vertedero y cortaron la "
               "carretera durante dos horas."),
        # Discrimination against someone other than migrants.
        ("en", "The report found discrimination against women in promotions at the bank."),
    ],
)  # fmt: skip
def test_xenophobia_needs_migrants_as_the_target(rules: Tagger, lang: str, body: str) -> None:
    assert "anti_immigrant_protest_xenophobia" not in _topics(_tag(rules, body, lang))


INTEGRATION = {
    "en: dreamers": ("en", "The ruling protects Dreamers, undocumented immigrants brought to the "
                           "US as children, from deportation for now."),
    "en: language and jobs": ("en", "The council's scheme helps refugees settle in: English "
                                    "classes in the morning and job training in the afternoon."),
    "en: naturalising": ("en", "More immigrants are naturalising and becoming eligible to vote, "
                               "a census analysis shows."),
    "es: homologar": ("es", "Las enfermeras marroquíes piden agilizar la homologación de sus "
                            "títulos para trabajar en hospitales públicos."),
    "es: clases de idioma": ("es", "Refugiadas sirias y afganas reciben clases de español y "
                                   "acompañamiento para entrar en el mercado laboral."),
    "es: regulariza": ("es", "Perú regulariza a 200.000 venezolanos con un nuevo permiso "
                             "temporal de permanencia."),
}


DIPLOMACY = {
    "en: in exchange for": ("en", "El Salvador agreed to accept migrants expelled by the United "
                                  "States in exchange for payments from Washington."),
    "en: global compacts": ("en", "The pope urged governments to adopt the UN global compacts "
                                  "on refugees and migration."),
    "en: tariffs": ("en", "Washington threatened tariffs unless Mexico stopped the migrants "
                          "heading north through its territory."),
    "es: acuerdo bilateral": ("es", "Los primeros migrantes rescatados fueron trasladados al "
                                    "centro de Gjader conforme al acuerdo bilateral."),
    "es: declaración": ("es", "Veinte países firmaron en la cumbre una declaración final para "
                              "ampliar las vías legales de los migrantes."),
}


PHRASINGS = {
    "anti_immigrant_protest_xenophobia": XENOPHOBIA,
    "integration_citizenship": INTEGRATION,
    "migration_diplomacy_cooperation": DIPLOMACY,
}


@pytest.mark.parametrize(
    ("tag", "kind"), [(tag, kind) for tag, cases in PHRASINGS.items() for kind in sorted(cases)]
)
def test_reporters_phrasings_tag_their_topic(rules: Tagger, tag: str, kind: str) -> None:
    lang, body = PHRASINGS[tag][kind]
    result = _tag(rules, body, lang)
    assert result.migration_related
    assert tag in _topics(result)


@pytest.mark.parametrize(
    ("tag", "lang", "body"),
    [
        ("integration_citizenship", "en",
         "The dreamers of the startup world met in Lisbon to pitch their apps to investors."),
        ("integration_citizenship", "en",
         "Pupils settle in quickly at the new school, which offers English classes and a "
         "chess club."),
        ("integration_citizenship", "es",
         "El fabricante logró la homologación de su nuevo coche eléctrico para venderlo "
         "en Europa."),
        ("migration_diplomacy_cooperation", "en",
         "The club agreed to release the striker in exchange for a loan deal and a "
         "sell-on clause."),
        ("migration_diplomacy_cooperation", "en",
         "The two countries brokered a ceasefire and agreed joint patrols along the "
         "disputed river."),
        ("migration_diplomacy_cooperation", "es",
         "Ambos países firmaron un acuerdo bilateral para rebajar los aranceles del "
         "aceite y del vino."),
    ],
)  # fmt: skip
def test_the_same_words_about_something_else_are_not_migration(
    rules: Tagger, tag: str, lang: str, body: str
) -> None:
    result = _tag(rules, body, lang)
    assert not result.migration_related
    assert tag not in _topics(result)
