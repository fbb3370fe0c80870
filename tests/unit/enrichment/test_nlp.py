"""NER-only spaCy pipelines: same entities as the full model, raw offsets and labels."""

from __future__ import annotations

import warnings

import pytest
import spacy

import pipeline.enrichment.nlp as nlp_module
from pipeline.core.settings import Settings
from pipeline.enrichment.nlp import Ner, RawSpan, load_ner_pipeline
from tests.support import SAMPLE_ARTICLE

SETTINGS = Settings()
SPANISH = (
    "El ministro del Interior, Rodrigo Delgado, viajó el martes a Iquique para reunirse "
    "con representantes de la Organización Internacional para las Migraciones."
)


@pytest.fixture(scope="module")
def ner() -> Ner:
    return Ner({"en": SETTINGS.enrich.model_en, "es": SETTINGS.enrich.model_es}, batch_size=8)


def _texts(text: str, spans: list[RawSpan]) -> set[tuple[str, str]]:
    return {(text[s.start_char : s.end_char], s.label) for s in spans}


@pytest.mark.parametrize("name", [SETTINGS.enrich.model_en, SETTINGS.enrich.model_es])
def test_only_ner_is_loaded_and_w095_is_silent(name: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nlp = load_ner_pipeline(name)
    assert nlp.pipe_names == ["ner"]
    assert not [w for w in caught if "W095" in str(w.message)]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (SETTINGS.enrich.model_en,
         "Officials in El Paso said Governor Greg Abbott met UNHCR staff."),
        (SETTINGS.enrich.model_es, SPANISH),
    ],
)
def test_same_entities_as_the_full_pipeline(name: str, text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = spacy.load(name)
    expected = [(e.start_char, e.end_char, e.label_) for e in full(text).ents]
    assert expected
    assert [tuple(s) for s in Ner({"xx": name}).extract([text], "xx")[0]] == expected


def test_english_sample_article(ner: Ner) -> None:
    text = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    found = _texts(text, ner.extract([text], "en")[0])
    assert ("Rodrigo Delgado", "PERSON") in found
    assert any(name == "Iquique" for name, _ in found)


def test_spanish_labels(ner: Ner) -> None:
    found = _texts(SPANISH, ner.extract([SPANISH], "es")[0])
    assert ("Rodrigo Delgado", "PER") in found
    assert ("Organización Internacional para las Migraciones", "ORG") in found


def test_batch_keeps_order(ner: Ner) -> None:
    texts = ["Angela Merkel spoke in Berlin.", "Nothing here.", "Joe Biden visited Texas."]
    spans = ner.extract(texts, "en")
    assert [len(s) > 0 for s in spans] == [True, False, True]
    assert ("Texas", "GPE") in _texts(texts[2], spans[2])


def test_language_without_model_gives_no_spans(ner: Ner) -> None:
    assert ner.extract(["Angela Merkel a parlé à Berlin.", "x"], "fr") == [[], []]


def test_long_text_is_cut_before_ner(ner: Ner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nlp_module, "MAX_NER_CHARS", 200)
    head = "Angela Merkel met the mayor of Hamburg. " * 4
    text = head + "filler " * 50 + "Later Joe Biden spoke in Texas."
    found = _texts(text, ner.extract([text], "en")[0])
    assert ("Angela Merkel", "PERSON") in found
    assert not any(name in {"Joe Biden", "Texas"} for name, _ in found)
