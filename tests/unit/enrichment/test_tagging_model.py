"""The trained half of the tagger: a long article that mentions migration in passing is not
about migration, every tag still shows evidence an analyst can read, and the shipped model
is the one the training command describes."""

from __future__ import annotations

import json
import math

import pytest

from pipeline.enrichment.tagging import Tagger, load_tagger
from pipeline.enrichment.tagging._model import (
    BUILTIN_MODEL,
    MIGRATION,
    Decision,
    LinearModel,
    Snippet,
    counts,
    decide,
    ngrams,
    stem_of,
)
from pipeline.enrichment.tagging._rules import load_rules
from tests.support import ROOT, SAMPLE_ARTICLE

# Invented: an election story of ~400 words with one sentence about immigration.
PASSING_MENTION = (
    "The governor spent the last day of the campaign touring factories in the east of the "
    "state, promising lower property taxes and a new highway to the coast. " * 6
    + "Asked about immigration, she said the issue was for Washington to settle. "
    + "Her opponent held a rally downtown, where supporters cheered his plan to expand "
    "broadband to rural counties and to raise teachers' pay. Polls close at eight. " * 6
)

# Invented: a long article about a reception camp that names no rule-listed topic word in
# some paragraphs; the model must still tag it and point at words in the text.
CAMP_STORY = (
    "Rain flooded the tents again overnight at the reception camp outside the port, where "
    "more than 2,000 asylum seekers are waiting for their claims to be heard. Families said "
    "there was not enough food, the water taps were broken and the toilets overflowed. "
    + "Aid workers handed out blankets and medicine while volunteers cooked in a makeshift "
    "kitchen, and doctors warned that overcrowding was spreading scabies among the children. "
    * 3
)


# Invented article-length look-alikes (long enough that the trained model, not the snippet
# rules, decides): migration words about something else.
LONG_LOOKALIKES = {
    "bird migration": (
        "Swallows and swifts gather on the wires before the long flight south",
        "Birdwatchers on the south coast counted record numbers of swallows, house martins and "
        "swifts this week as the autumn migration got under way. The birds cross the Channel "
        "and the Bay of Biscay before flying over Spain and the Sahara to spend the winter in "
        "southern Africa. Ringing records show some return to the same barn every spring. "
        "Volunteers at the observatory caught and ringed more than 400 birds on Saturday alone, "
        "and a rare red-rumped swallow drew crowds to the headland. Warm southerly winds held "
        "the flocks back for a fortnight, the warden said, so the departure was later than usual. "
        "Conservationists warn that insect numbers along the route are falling, leaving the "
        "migrants with less to eat on their journey, and that the wetlands they rest in are "
        "drying out. The society asks members to report sightings through its app so that the "
        "timing of the migration can be compared with earlier decades.",
    ),
    "data migration": (
        "Bank finishes moving its customer systems to the cloud",
        "The bank said on Monday that it had completed the migration of its core systems to a "
        "public cloud provider, three months behind schedule. More than 2,000 servers and forty "
        "years of account records were moved over four weekends, during which the mobile app was "
        "unavailable for several hours. Engineers had to rewrite the batch jobs that settle card "
        "payments overnight, and a fault in the first weekend left some customers unable to see "
        "their balance until Sunday evening. The chief technology officer said the project would "
        "cut running costs by a fifth and let the bank release new features every week rather "
        "than every quarter. Unions have asked for assurances that the data centre staff will be "
        "retrained rather than laid off. Analysts said other lenders are watching closely, since "
        "regulators have warned that concentrating banking systems with a few cloud providers "
        "creates a new kind of risk for the financial system.",
    ),
    "football transfers": (
        "Club breaks its transfer record on deadline day",
        "The club broke its transfer record on deadline day, signing the Brazilian striker for "
        "a fee that could rise to 60 million euros, and loaned two young defenders to clubs in "
        "the second division. The manager said the new forward would travel with the squad to "
        "the away match on Saturday once his work permit was confirmed. Supporters had "
        "protested outside the ground last week after a summer in which the club sold its "
        "captain and its goalkeeper without replacing them. The striker scored 23 goals last "
        "season and is expected to start alongside the academy graduate who has impressed in "
        "pre-season. The chairman said the spending was possible because of the new stadium "
        "sponsorship and a strong run in the European competition. Rivals were also busy in "
        "the final hours of the window, with a flurry of loan deals and one late move that "
        "collapsed when the paperwork missed the deadline by a few minutes.",
    ),
    "expat pensions": (
        "Expats in Spain warned over pension tax rules",
        "British expats living in Spain have been warned that they may owe tax on their UK "
        "pensions in both countries if they fail to register with the Spanish tax office in "
        "time. Advisers say thousands of retirees on the Costa del Sol have never filed a "
        "Spanish return, believing that the double taxation treaty protects them "
        "automatically. In fact the treaty only prevents tax being charged twice once the "
        "right forms are filed, and the penalties for late declarations of foreign assets can "
        "be steep. The consulate has organised a series of information evenings in Malaga and "
        "Alicante, where financial planners will explain how pensions, savings accounts and "
        "rental income from a property back home are treated. Estate agents say demand for "
        "villas from northern Europeans remains strong despite the paperwork, with golf "
        "resorts and coastal towns most popular among buyers in their sixties. Banks in the "
        "region now offer accounts in English and advisers who specialise in inheritance rules "
        "for foreign owners.",
    ),
}

LONG_DEPORTATION = (
    "Deportation flight leaves with 60 people on board despite legal challenges",
    "A charter flight carrying 60 people the Home Office wants to deport left an airport near "
    "London early on Wednesday, after lawyers won last-minute reprieves for a dozen others. "
    "Those removed had been held in immigration removal centres for weeks, and several told "
    "charities they had lived in Britain since childhood. The department said everyone on "
    "board had exhausted their appeals and had no right to remain. Campaigners who gathered "
    "outside the detention centre the night before said some of the deportees had not been "
    "given time to speak to a lawyer. The flight was bound for Jamaica, and officials say more "
    "removal flights to other countries are planned before the end of the year. Opposition "
    "MPs wrote to the home secretary asking her to halt deportations until a review of past "
    "cases is complete. The government says the removals involve foreign criminals and that "
    "it will keep deporting those with no legal basis to stay.",
)


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return load_tagger()


def test_a_passing_mention_in_a_long_article_is_not_about_migration(tagger: Tagger) -> None:
    result = tagger.tag(title="Governor makes final pitch to voters", body=PASSING_MENTION,
                        language="en", entities=[])  # fmt: skip
    assert not result.migration_related
    assert result.topics == []


def test_a_camp_story_is_tagged_with_evidence_in_the_text(tagger: Tagger) -> None:
    title = "Rain floods reception camp as asylum seekers wait"
    result = tagger.tag(title=title, body=CAMP_STORY, language="en", entities=[])
    assert result.migration_related
    topics = {t.id: t for t in result.topics}
    assert "humanitarian_conditions_camps" in topics
    for topic in result.topics:
        assert topic.evidence, topic.id
        for ev in topic.evidence:
            text = title if ev.field == "title" else CAMP_STORY
            assert text[ev.start : ev.end] == ev.cue and ev.cue.strip()


@pytest.mark.parametrize("kind", sorted(LONG_LOOKALIKES))
def test_long_lookalikes_are_not_migration(tagger: Tagger, kind: str) -> None:
    title, body = LONG_LOOKALIKES[kind]
    assert len(body.split()) > 150  # the model decides, not the snippet rules
    result = tagger.tag(title=title, body=body, language="en", entities=[])
    assert not result.migration_related
    assert result.topics == []


def test_a_deportation_article_is_tagged_deportation_with_evidence(tagger: Tagger) -> None:
    title, body = LONG_DEPORTATION
    result = tagger.tag(title=title, body=body, language="en", entities=[])
    assert result.migration_related
    topics = {t.id: t for t in result.topics}
    assert "deportation_expulsion" in topics
    assert len(result.topics) <= LinearModel.load(BUILTIN_MODEL).decision.max_tags
    for topic in result.topics:
        assert topic.evidence, topic.id
        for ev in topic.evidence:
            text = title if ev.field == "title" else body
            assert text[ev.start : ev.end] == ev.cue


_THRESHOLDS = {MIGRATION: 0.5, "a": 0.5, "b": 0.4, "c": 0.6, "d": 0.5}


def test_decide_needs_the_model_and_a_rule_cue() -> None:
    probs = {"a": 0.9, "b": 0.1, "c": 0.1, "d": 0.1}
    gate = Decision(gate=0.5)
    assert decide(0.9, probs, 0.6, _THRESHOLDS, gate) == (True, {"a": 0.9})
    assert decide(0.9, probs, 0.2, _THRESHOLDS, gate) == (False, {})  # no rule accepted a cue
    assert decide(0.4, probs, 3.0, _THRESHOLDS, gate) == (False, {})  # the model says no


def test_decide_keeps_the_strongest_tags_up_to_the_limit() -> None:
    probs = {"a": 0.55, "b": 0.8, "c": 0.9, "d": 0.7}  # ratios 1.1, 2.0, 1.5, 1.4
    related, kept = decide(0.9, probs, 1.0, _THRESHOLDS, Decision(max_tags=2))
    assert related and list(kept) == ["b", "c"]


def test_decide_falls_back_to_the_likeliest_tag_only_when_close() -> None:
    probs = {"a": 0.1, "b": 0.3, "c": 0.1, "d": 0.1}  # b: 0.75 of its threshold
    assert decide(0.9, probs, 1.0, _THRESHOLDS, Decision(fallback=0.7)) == (True, {"b": 0.3})
    assert decide(0.9, probs, 1.0, _THRESHOLDS, Decision(fallback=0.8)) == (True, {})


def test_a_snippet_the_rules_took_is_migration_unless_the_model_all_but_rules_it_out() -> None:
    probs = {"a": 0.1, "b": 0.1, "c": 0.1, "d": 0.1}
    took = Snippet(related=True, tags={"c": 0.7}, lookalike=0.0)
    floor = Decision(short_floor=0.3)
    assert decide(0.35, probs, 1.0, _THRESHOLDS, floor, took) == (True, {"c": 0.7})
    assert decide(0.2, probs, 1.0, _THRESHOLDS, floor, took) == (False, {})


def test_a_lookalike_the_rules_recognised_in_a_snippet_outweighs_the_model() -> None:
    probs = {"a": 0.9, "b": 0.1, "c": 0.1, "d": 0.1}
    lookalike = Snippet(related=False, tags={}, lookalike=0.8)
    plain = Snippet(related=False, tags={}, lookalike=0.0)
    assert decide(0.99, probs, 0.6, _THRESHOLDS, Decision(), lookalike) == (False, {})
    # Without a look-alike the model may still find what no rule lists.
    assert decide(0.99, probs, 0.6, _THRESHOLDS, Decision(), plain) == (True, {"a": 0.9})


def test_a_tag_no_rule_cue_fired_for_must_clear_a_higher_bar() -> None:
    probs = {"a": 0.6, "b": 0.6, "c": 0.1, "d": 0.1}  # ratios 1.2 and 1.5
    strict = Decision(uncued=1.4)
    assert decide(0.9, probs, 1.0, _THRESHOLDS, strict, None, frozenset({"a"})) == (
        True, {"b": 0.6, "a": 0.6})  # fmt: skip
    assert decide(0.9, probs, 1.0, _THRESHOLDS, strict, None, frozenset()) == (True, {"b": 0.6})
    never = Decision(uncued=99.0, fallback=0.5)
    # Not even as the fallback tag; unknown cues (None) count as cued.
    assert decide(0.9, probs, 1.0, _THRESHOLDS, never, None, frozenset({"c"})) == (True, {})
    assert decide(0.9, probs, 1.0, _THRESHOLDS, never) == (True, {"b": 0.6, "a": 0.6})


def test_a_model_file_without_a_decision_uses_the_defaults() -> None:
    assert Decision.of(None) == Decision(gate=0.0, max_tags=3, fallback=1.0, short_floor=0.0,
                                         uncued=1.0)  # fmt: skip


def test_the_rules_alone_took_the_passing_mention_for_migration() -> None:
    """What the trained model is for: the cue weight of one sentence clears the rules'
    length-dependent threshold, the model reads the whole article and says no."""
    rules = load_tagger(model=False)
    result = rules.tag(title="Governor makes final pitch to voters", body=PASSING_MENTION,
                       language="en", entities=[])  # fmt: skip
    assert result.migration_related


def test_the_sample_article_is_about_anti_migrant_protests(tagger: Tagger) -> None:
    body = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    result = tagger.tag(title=None, body=body, language="en", entities=[])
    assert result.migration_related
    topics = {t.id: t for t in result.topics}
    assert "anti_immigrant_protest_xenophobia" in topics
    for topic in result.topics:
        assert topic.evidence
        for e in topic.evidence:
            assert body[e.start : e.end].lower() == e.cue.lower()


def test_ngrams_point_at_the_text() -> None:
    text = "Los menores, ¿acogidos? Sí: 2.000 niños llegaron a Ceuta."
    grams = ngrams(text)
    assert ("menores", 4, 11) in grams
    assert any(g == "llegaron_ceuta" for g, _, _ in grams)
    for g, s, e in grams:
        assert "_" in g or text[s:e].lower().replace("í", "i") == g


def test_a_stem_joins_the_forms_of_a_word_and_leaves_pairs_and_short_words_alone() -> None:
    assert stem_of("desplazados", 5) == stem_of("desplaza", 5) == "~despl"
    assert stem_of("deportations", 5) == stem_of("deported", 5)
    assert stem_of("asilo", 5) is None  # no longer than the stem: the word itself says it
    assert stem_of("forced_displacement", 5) is None
    assert stem_of("desplazados", 0) is None


def test_stems_count_once_per_word_beside_the_weighted_words() -> None:
    title = ngrams("Desplazados por la violencia")
    body = ngrams("La violencia desplaza a miles de familias.")
    plain = counts(title, body)
    stemmed = counts(title, body, 5)
    assert "~despl" not in plain
    assert stemmed["~despl"] == 2  # one in the title, one in the body: no title weight
    assert stemmed["~viole"] == 2
    assert {g: c for g, c in stemmed.items() if not g.startswith("~")} == plain


def test_a_tag_found_by_a_stem_shows_the_word_it_came_from() -> None:
    # A model whose one feature is a stem no rule knows: the evidence is the word in the text.
    data = {"format": "newsflow-tagging-model/5", "stem": 5,
            "outputs": [MIGRATION, "climate_migration"], "cue_tags": [],
            "vocab": ["~pomeg"], "idf": [1.0], "intercept": [-1.0, -1.0], "coef": [[4.0], [4.0]],
            "thresholds": {MIGRATION: 0.5, "climate_migration": 0.5}}  # fmt: skip
    tagger = Tagger(load_rules(None), LinearModel(data))
    body = "The market sold pomegranates all week."
    res = tagger.tag(title=None, body=body, language="en", entities=[])
    assert res.migration_related
    (topic,) = res.topics
    assert [(e.cue, e.field, body[e.start : e.end]) for e in topic.evidence] == [
        ("pomegranates", "body", "pomegranates")
    ]
    res = tagger.tag(title=None, body="The market sold apples all week.", language="en",
                     entities=[])  # fmt: skip
    assert not res.migration_related


def test_shipped_model_covers_the_taxonomy(tagger: Tagger) -> None:
    model = LinearModel.load(BUILTIN_MODEL)
    assert set(model.tags) == set(tagger.taxonomy)
    assert set(model.thresholds) == {MIGRATION, *tagger.taxonomy}
    assert all(0.0 < t < 1.0 for t in model.thresholds.values())


def test_a_format_3_file_reads_the_cue_features_it_was_trained_on() -> None:
    # /4 appended features; a /3 model weighs only the first ones (here two cue features).
    data = {"format": "newsflow-tagging-model/3", "outputs": [MIGRATION], "cue_tags": [],
            "vocab": ["boat"], "idf": [1.0], "intercept": [0.0], "coef": [[0.0, 2.0, -2.0]],
            "thresholds": {MIGRATION: 0.5}}  # fmt: skip
    model = LinearModel(data)
    one = model.predict([], [], [1.0, 0.0, 50.0, 50.0]).migration
    assert one == pytest.approx(1.0 / (1.0 + math.exp(-2.0)))


def test_a_format_4_file_reads_no_stems() -> None:
    data = {"format": "newsflow-tagging-model/4", "outputs": [MIGRATION], "cue_tags": [],
            "vocab": ["~despl"], "idf": [1.0], "intercept": [0.0], "coef": [[3.0]],
            "thresholds": {MIGRATION: 0.5}}  # fmt: skip
    model = LinearModel(data)
    assert model.stem == 0
    assert model.predict([], ngrams("desplazados"), []).migration == pytest.approx(0.5)


def test_a_model_file_of_another_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        LinearModel({"format": "something-else/9"})


def _snippets(name: str) -> list[dict]:
    path = ROOT / "tests" / "data" / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.parametrize("name", ["tags_en.jsonl", "tags_es.jsonl"])
def test_invented_snippets(tagger: Tagger, name: str) -> None:
    """No look-alike snippet is called migration; nearly every migration snippet is."""
    rows = _snippets(name)
    results = [tagger.tag(title=r.get("title"), body=r["text"], language=r["language"],
                          entities=[]) for r in rows]  # fmt: skip
    lookalikes = [r["text"] for r, res in zip(rows, results, strict=True)
                  if res.migration_related and not r["migration_related"]]  # fmt: skip
    assert lookalikes == []
    positives = [res.migration_related for r, res in zip(rows, results, strict=True)
                 if r["migration_related"]]  # fmt: skip
    assert sum(positives) >= 0.95 * len(positives)
