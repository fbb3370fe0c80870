"""Language detection: the codes we route NER on, honest 'und' when there is no text."""

from __future__ import annotations

import pytest

from pipeline.enrichment.language import DETECT_CHARS, UNDETERMINED, detect_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (
            "The families waited three days at the border crossing before officials let them in.",
            "en",
        ),
        ("Las familias esperaron tres días en el paso fronterizo antes de poder entrar.", "es"),
        ("As famílias esperaram três dias na fronteira antes de poderem entrar no país.", "pt"),
        ("Les familles ont attendu trois jours à la frontière avant de pouvoir entrer.", "fr"),
        ("Die Familien warteten drei Tage an der Grenze, bevor sie einreisen durften.", "de"),
        ("Le famiglie hanno aspettato tre giorni al confine prima di poter entrare.", "it"),
    ],
)
def test_detects_news_languages(text: str, code: str) -> None:
    assert detect_language(text) == code


@pytest.mark.parametrize("text", ["", "   \n ", "12 345 678", "—!?"])
def test_no_letters_is_undetermined(text: str) -> None:
    assert detect_language(text) == UNDETERMINED


def test_only_the_head_is_read() -> None:
    english = "The shelter in the north of the city received more families this week. "
    spanish = "El albergue del norte de la ciudad recibió a más familias esta semana. "
    text = english * (DETECT_CHARS // len(english) + 1) + spanish * 500
    assert detect_language(text) == "en"
    assert detect_language(spanish * 500) == "es"
