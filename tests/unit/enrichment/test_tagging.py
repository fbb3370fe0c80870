"""The migration-topic tagger: look-alikes stay out, each topic fires with honest evidence,
rules are data a user can extend, and a broken rules file says what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.enrichment.tagging import Tagger, TaggingRulesError, TagResult, load_tagger
from pipeline.enrichment.tagging._rules import BUILTIN_RULES
from schemas import Entity, Mention
from tests.support import SAMPLE_ARTICLE, TAG_IDS


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return load_tagger()


def _tag(tagger: Tagger, body: str, *, title: str | None = None, lang: str = "en") -> TagResult:
    return tagger.tag(title=title, body=body, language=lang, entities=[])


def _topics(result: TagResult) -> set[str]:
    return {t.id for t in result.topics}


LOOKALIKES_EN = {
    "bird migration": "Flocks of geese and swallows began their autumn migration across the "
    "border into Spain, birdwatchers reported.",
    "animal migration": "Thousands of caribou migrate across the frontier every spring, and the "
    "herds are now arriving in Alaska.",
    "cloud migration": "The insurer finished migrating its claims database and 200 servers to "
    "the cloud over the weekend.",
    "software migration": "Users complained after the app's migration to a new platform wiped "
    "their saved files.",
    "border in sport": "Carlisle won the border derby against Workington with a late goal, "
    "sending their fans home happy.",
    "border in design": "Her quilt has a wide indigo border stitched with a pattern of tiny stars.",
    "historic asylum": "The county lunatic asylum, which held 900 patients in Victorian times, "
    "is to become a hotel.",
    "refugees from the heat": "Office workers turned refugees from the heat, packing the "
    "air-conditioned cinemas as the thermometer hit 36C.",
    "deportation in a history book": "The historian's new book recounts the deportation of "
    "Crimean Tatars by Stalin in 1944.",
    "drug smuggling": "Coastguards intercepted a speedboat smuggling 800 kilos of cocaine off "
    "the coast of Galicia.",
    "goods smuggling": "A gang that smuggled cigarettes and counterfeit goods across the border "
    "in lorries was jailed.",
    "wildlife smuggling": "Traffickers smuggling pangolin scales and ivory through the airport "
    "were arrested by wildlife officers.",
    "summer camp": "The summer camp offers children canoeing, campfires and drama, with cabins "
    "by the lake.",
    "railway crossing": "A lorry was hit by a train on a level crossing after the barriers "
    "failed, Network Rail said.",
    "exodus of players": "The relegated club faces an exodus of players as its best strikers "
    "seek transfers.",
}

LOOKALIKES_ES = {
    "migración de aves": "Miles de cigüeñas cruzan el estrecho en su migración anual hacia "
    "África, según los ornitólogos.",
    "migración de datos": "El banco completó la migración de sus bases de datos a la nube sin "
    "cortes del servicio.",
    "asilo de ancianos": "El asilo de ancianos del pueblo celebró el cumpleaños de su residente "
    "más longeva.",
    "contrabando de tabaco": "La Guardia Civil detuvo a los traficantes que pasaban tabaco de "
    "contrabando por la frontera.",
    "éxodo de jugadores": "El club sufre un éxodo de jugadores tras perder la categoría.",
    "paso a nivel": "Un tren arrolló a una furgoneta en un paso a nivel cerca de Zamora.",
    "campamento de verano": "El campamento de verano ofrece a los niños piragüismo y "
    "excursiones por la sierra.",
}


@pytest.mark.parametrize("kind", sorted(LOOKALIKES_EN))
def test_english_lookalikes_are_not_migration(tagger: Tagger, kind: str) -> None:
    result = _tag(tagger, LOOKALIKES_EN[kind])
    assert not result.migration_related, (kind, result)
    assert result.topics == []


@pytest.mark.parametrize("kind", sorted(LOOKALIKES_ES))
def test_spanish_lookalikes_are_not_migration(tagger: Tagger, kind: str) -> None:
    result = _tag(tagger, LOOKALIKES_ES[kind], lang="es")
    assert not result.migration_related, (kind, result)


def test_the_rules_weigh_the_lookalikes_they_recognise() -> None:
    """A migration word vetoed by its context is counted as evidence against (what the model
    and the snippet decision read), not as a cue; the same word among people on the move is
    a cue and no look-alike."""
    rules = load_tagger(model=False)
    heat = _tag(rules, "Office workers turned refugees from the heat, packing the cinemas.")
    war = _tag(rules, "Refugees fleeing the shelling packed the trains heading west.")
    assert heat.lookalike > 0 and not heat.migration_related
    assert war.lookalike == 0 and war.relevance > 0
    both = _tag(rules, "Refugees fleeing the shelling packed the trains heading west. "
                "Office workers turned refugees from the heat, packing the cinemas.")  # fmt: skip
    assert both.lookalike == heat.lookalike and both.relevance >= war.relevance


POSITIVES_EN = {
    "border_crossing": "About 400 migrants crossed the Channel in small boats on Sunday, "
    "officials said.",
    "asylum_refugees": "The number of Eritreans applying for asylum in Britain doubled last year.",
    "deportation_expulsion": "A deportation flight carrying 30 people left for Lagos despite "
    "legal challenges.",
    "detention": "Lawyers described filthy conditions inside the immigration detention centre "
    "near Gatwick.",
    "smuggling_trafficking": "Police arrested six members of a people-smuggling gang that "
    "moved Iraqis across Europe in lorries.",
    "migrant_deaths_missing": "At least 25 migrants drowned when their dinghy capsized off Libya.",
    "anti_immigrant_protest_xenophobia": "Masked men chanting anti-migrant slogans attacked a "
    "hostel housing refugees.",
    "humanitarian_conditions_camps": "Families in the overcrowded refugee camp have no clean "
    "water and food rations were cut.",
    "migration_policy_law": "The new immigration bill would cap the number of work visas and "
    "raise fees for asylum appeals.",
    "labour_migration_remittances": "Remittances from migrant workers in the Gulf keep "
    "thousands of Nepali families afloat.",
    "integration_citizenship": "The undocumented migrants will be able to apply for residence "
    "permits after five years.",
    "internal_displacement": "Renewed fighting forced 40,000 people from their homes in North "
    "Kivu; most remain internally displaced.",
    "climate_migration": "Floods displaced half a million people in Bangladesh, many of whom "
    "now live in tents.",
    "migration_diplomacy_cooperation": "The EU and Tunisia signed a migration deal that pays "
    "for coastguard boats to stop departures of migrants.",
    "return_reintegration": "Under the voluntary return scheme, 2,000 Afghans went home with "
    "grants to rebuild their lives.",
}


@pytest.mark.parametrize("tag_id", sorted(POSITIVES_EN))
def test_each_topic_fires_with_evidence_pointing_at_the_cue(tagger: Tagger, tag_id: str) -> None:
    body = POSITIVES_EN[tag_id]
    result = _tag(tagger, body)
    assert result.migration_related
    topic = next((t for t in result.topics if t.id == tag_id), None)
    assert topic is not None, (tag_id, _topics(result))
    assert 0.0 < topic.score <= 1.0
    assert topic.evidence
    for ev in topic.evidence:
        assert ev.field == "body"
        assert body[ev.start : ev.end] == ev.cue
        assert ev.cue.strip() == ev.cue and ev.cue


def test_every_taxonomy_id_is_shipped_with_its_label(tagger: Tagger) -> None:
    assert set(tagger.taxonomy) == TAG_IDS
    assert all(label.strip() for label in tagger.taxonomy.values())
    assert set(POSITIVES_EN) == TAG_IDS


def test_title_evidence_has_offsets_into_the_title(tagger: Tagger) -> None:
    title = "Hundreds of asylum seekers stranded at Polish frontier"
    body = "Temperatures fell below zero overnight."
    result = _tag(tagger, body, title=title)
    assert result.migration_related
    title_ev = [ev for t in result.topics for ev in t.evidence if ev.field == "title"]
    assert title_ev
    for ev in title_ev:
        assert title[ev.start : ev.end] == ev.cue


def test_body_offsets_are_not_shifted_by_the_title(tagger: Tagger) -> None:
    body = "Border Force said 120 migrants crossed the Channel on Friday."
    result = _tag(tagger, body, title="A busy day in Dover")
    evidence = [ev for t in result.topics for ev in t.evidence]
    assert evidence and all(body[ev.start : ev.end] == ev.cue for ev in evidence)


POSITIVES_ES = [
    ("Salvamento Marítimo rescató a 90 migrantes que viajaban en dos pateras cerca de "
     "Lanzarote.", "border_crossing"),
    ("Las solicitudes de asilo de venezolanos en España batieron un récord.", "asylum_refugees"),
    ("Estados Unidos deportó a 150 hondureños en dos vuelos a San Pedro Sula.",
     "deportation_expulsion"),
    ("Los internos del centro de internamiento de extranjeros denunciaron malos tratos.",
     "detention"),
    ("Desarticulada una red de trata de personas que explotaba a mujeres paraguayas.",
     "smuggling_trafficking"),
    ("Al menos 12 migrantes murieron ahogados tras el naufragio de su embarcación.",
     "migrant_deaths_missing"),
    ("Las remesas de los trabajadores migrantes a Honduras crecieron un 10 %.",
     "labour_migration_remittances"),
    ("La regularización extraordinaria dará papeles a medio millón de inmigrantes.",
     "integration_citizenship"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "tag_id"), POSITIVES_ES)
def test_spanish_positives(tagger: Tagger, body: str, tag_id: str) -> None:
    result = _tag(tagger, body, lang="es")
    assert result.migration_related
    assert tag_id in _topics(result)
    for t in result.topics:
        for ev in t.evidence:
            assert body[ev.start : ev.end] == ev.cue


def test_accents_and_case_do_not_matter(tagger: Tagger) -> None:
    plain = _tag(tagger, "ESTADOS UNIDOS DEPORTO A 150 HONDURENOS.", lang="es")
    assert "deportation_expulsion" in _topics(plain)


def test_unknown_language_uses_every_language(tagger: Tagger) -> None:
    result = _tag(tagger, "Al menos 12 migrantes murieron ahogados en el naufragio.", lang="und")
    assert "migrant_deaths_missing" in _topics(result)


def test_entities_add_context(tagger: Tagger) -> None:
    body = "Hundreds of Zorbians crossed the border overnight, police said."
    start = body.index("Zorbians")
    norp = Entity(text="Zorbians", label="NORP", count=1,
                  mentions=[Mention(start=start, end=start + len("Zorbians"))])  # fmt: skip
    without = tagger.tag(title=None, body=body, language="en", entities=[])
    with_entity = tagger.tag(title=None, body=body, language="en", entities=[norp])
    assert "border_crossing" not in _topics(without)
    assert "border_crossing" in _topics(with_entity)


# --- rules files ------------------------------------------------------------------------

_SENTENCE = "Officials expelled 40 wanderfolk from the province yesterday."


def _write(tmp_path: Path, data: object, name: str = "rules.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_user_file_extending_a_lexicon_changes_the_result(tagger: Tagger, tmp_path: Path) -> None:
    assert not _tag(tagger, _SENTENCE).migration_related
    path = _write(tmp_path, {
        "format": "newsflow-tagging/1",
        "extends": "builtin",
        "lexicons": {"migrant": {"en": ["wanderfolk"]}},
    })  # fmt: skip
    extended = load_tagger(path)
    result = _tag(extended, _SENTENCE)
    assert result.migration_related
    assert "deportation_expulsion" in _topics(result)


def test_user_file_can_add_a_veto(tagger: Tagger, tmp_path: Path) -> None:
    body = "Hundreds of migrants were rescued from a sinking boat off Crete."
    assert _tag(tagger, body).migration_related
    path = _write(tmp_path, {
        "format": "newsflow-tagging/1",
        "extends": "builtin",
        "lexicons": {"animal": {"en": ["migrants were rescued"]}},
        "disable_rules": ["border.strong", "border.generic", "border.weak"],
    })  # fmt: skip
    assert "border_crossing" not in _topics(_tag(load_tagger(path), body))


def test_a_full_copy_of_the_builtin_rules_loads(tagger: Tagger, tmp_path: Path) -> None:
    copy = tmp_path / "copy.json"
    copy.write_text(BUILTIN_RULES.read_text(encoding="utf-8"), encoding="utf-8")
    body = POSITIVES_EN["detention"]
    assert _tag(load_tagger(copy), body) == _tag(tagger, body)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"format": "newsflow-tagging/1", "rules": [', "invalid JSON at line 1"),
        ("[]", "top level must be a JSON object"),
        ('{"format": "something-else"}', '"format" must be'),
        ('{"format": "newsflow-tagging/1", "extends": "builtin", "rules": [{"id": "x", '
         '"tag": "no_such_tag", "terms": {"en": ["foo"]}}]}', "'no_such_tag' is not in"),
        ('{"format": "newsflow-tagging/1", "extends": "builtin", "rules": [{"id": "x", '
         '"terms": {"en": ["foo"]}, "veto": ["no_such_lexicon"]}]}', "'no_such_lexicon'"),
        ('{"format": "newsflow-tagging/1", "extends": "builtin", "rules": [{"id": "x", '
         '"terms": {"en": ["fo*o"]}}]}', "'*' is allowed only at the end"),
        ('{"format": "newsflow-tagging/1", "extends": "builtin", "rules": [{"id": "x", '
         '"terms": {"en": ["foo"]}, "weight": "heavy"}]}', "rules.0.weight"),
        ('{"format": "newsflow-tagging/1", "extends": "builtin", "taxonomy": [{"id": '
         '"detention", "label": "Jails"}]}', "never renamed"),
        ('{"format": "newsflow-tagging/1", "taxonomy": [{"id": "detention", "label": '
         '"Immigration detention"}]}', "lacks built-in tag ids"),
        ('{"format": "newsflow-tagging/1", "extends": "builtin", "rules": [{"id": "x", '
         '"terms": {"en": ["foo"]}, "topic_only": true}]}', "topic_only needs a tag"),
    ],
)  # fmt: skip
def test_malformed_rules_file_names_file_and_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "broken-rules.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TaggingRulesError) as info:
        load_tagger(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_a_topic_only_cue_names_the_topic_but_does_not_make_the_article(tmp_path: Path) -> None:
    rule = {"id": "custom.quays", "tag": "border_crossing", "weight": 1.0,
            "terms": {"en": ["quayside"]}, "require": ["migrant"]}  # fmt: skip
    body = "The quayside was busy at dawn; later two overstayers spoke to reporters."
    for topic_only, related in ((False, True), (True, False)):
        path = _write(tmp_path, {"format": "newsflow-tagging/1", "extends": "builtin",
                                 "rules": [dict(rule, topic_only=topic_only)]})  # fmt: skip
        rules = load_tagger(path, model=False)
        alone = _tag(rules, body)
        base = _tag(load_tagger(model=False), body)
        # The cue always counts for its tag; only a plain cue adds to the article's relevance.
        assert alone.relevance == pytest.approx(base.relevance + (0.0 if topic_only else 1.0))
        assert alone.migration_related is related
    with_more = _tag(rules, body + " Forty migrants had crossed the border at night.")
    assert "border_crossing" in _topics(with_more)
    assert any(e.cue == "quayside" for t in with_more.topics for e in t.evidence)


def test_missing_rules_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TaggingRulesError, match="cannot read"):
        load_tagger(tmp_path / "nope.json")




def test_the_sample_article_is_a_border_story_with_anti_migrant_protests() -> None:
    """The rules' cues for both stories of the sample (the trained model on the same text:
    test_tagging_model.py)."""
    body = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    result = _tag(load_tagger(model=False), body)
    assert result.migration_related
    topics = {t.id: t for t in result.topics}
    assert {"border_crossing", "anti_immigrant_protest_xenophobia"} <= set(topics)
    for tag_id in ("border_crossing", "anti_immigrant_protest_xenophobia"):
        evidence = topics[tag_id].evidence
        assert evidence
        for e in evidence:
            assert body[e.start:e.end].lower() == e.cue.lower()


@pytest.mark.parametrize(
    ("body", "lang", "xenophobia"),
    [
        ("Residents protested against the arrival of migrants at the shelter.", "en", True),
        ("Vecinos protestaron contra la llegada de migrantes al albergue.", "es", True),
        ("Hundreds protested against the deportation of migrants outside the court.", "en", False),
        ("Cientos protestaron contra la deportación de migrantes frente al juzgado.", "es", False),
    ],
)
def test_protests_against_migrants_are_not_protests_for_them(
    tagger: Tagger, body: str, lang: str, xenophobia: bool
) -> None:
    assert ("anti_immigrant_protest_xenophobia" in _topics(_tag(tagger, body, lang=lang))) \
        is xenophobia
