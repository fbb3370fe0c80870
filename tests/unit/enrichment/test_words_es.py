"""The Spanish vocabulary read from the model's lemma tables."""

from __future__ import annotations

from pipeline.enrichment.words_es import get_spanish_words


def test_forms_of_common_words_are_known() -> None:
    words = get_spanish_words()
    for word in ("Polémica", "Tensión", "Voluntarios", "Acusó", "naufragio"):
        assert words.is_common_word(word), word


def test_verb_forms_are_told_from_nouns() -> None:
    words = get_spanish_words()
    assert words.is_verb_form("Acusó") and words.is_verb_form("recordaron")
    assert not words.is_verb_form("Tensión")


def test_surnames_and_invented_names_are_not_common_words() -> None:
    words = get_spanish_words()
    for word in ("Sánchez", "Zorvan", "Bonmatí"):
        assert not words.is_common_word(word), word
