"""The trained half of the tagger: a long article that mentions migration in passing is not
about migration, every tag still shows evidence an analyst can read, and the shipped model
is the one the training command describes."""

from __future__ import annotations

import json

import pytest

from pipeline.enrichment.tagging import Tagger, load_tagger
from pipeline.enrichment.tagging._model import BUILTIN_MODEL, MIGRATION, LinearModel, ngrams
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


def test_shipped_model_covers_the_taxonomy(tagger: Tagger) -> None:
    model = LinearModel.load(BUILTIN_MODEL)
    assert set(model.tags) == set(tagger.taxonomy)
    assert set(model.thresholds) == {MIGRATION, *tagger.taxonomy}
    assert all(0.0 < t < 1.0 for t in model.thresholds.values())


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
