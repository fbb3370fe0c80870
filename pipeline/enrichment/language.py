"""Which language an article is written in, as an ISO 639-1 code or ``'und'``.

The detector is lingua's, built once per process from a short list of languages that
matter for migration news.  A short list is both faster and more accurate than all 75:
lingua only has to tell apart the candidates we can meet, and a candidate we never see
cannot steal a short text.  Text in a language outside the list either lands on a close
relative in it or, when no candidate wins clearly, on ``'und'``.

Publishers may send ``RawArticle.language``; we detect anyway, because feeds are often
configured once per site and mislabel translated or syndicated pieces.  Whether to prefer
the publisher's code is the caller's choice (``Enricher(prefer_publisher_language=...)``).
"""

from __future__ import annotations

from functools import cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

UNDETERMINED = "und"

# What lingua looks at: the first characters are plenty for a news article and keep the
# cost flat whatever the article's length.  bench/language_eval.py: 1,000 characters got
# all 5,429 English corpus articles and 158 Spanish texts right, as 2,000 did, in half the
# time (0.8 against 1.5 ms); 600 got one Spanish text wrong.
DETECT_CHARS = 1_000

_LANGUAGES = (
    Language.ENGLISH,
    Language.SPANISH,
    Language.PORTUGUESE,
    Language.FRENCH,
    Language.GERMAN,
    Language.ITALIAN,
    Language.CATALAN,
    Language.DUTCH,
    Language.POLISH,
    Language.ROMANIAN,
    Language.GREEK,
    Language.TURKISH,
    Language.RUSSIAN,
    Language.UKRAINIAN,
    Language.ARABIC,
)
# How far the best candidate must be ahead of the runner-up (lingua's relative distance)
# before we name a language; below it two candidates fit about equally and 'und' is honest.
_MIN_RELATIVE_DISTANCE = 0.05


# Below this many characters trigrams alone are unreliable (lingua's low-accuracy mode
# took "Angela Merkel visited a shelter in Berlin." for Dutch), so short texts go to the
# high-accuracy detector.  Its 1- to 5-gram models take a few seconds and ~250 MB to load,
# once per process, and only when a short text first comes along.
SHORT_TEXT_CHARS = 200


@cache
def _detector(*, low_accuracy: bool) -> LanguageDetector:
    # Low-accuracy mode uses trigrams only: as good on article-length text, several times
    # faster and a fraction of the memory.
    builder = LanguageDetectorBuilder.from_languages(*_LANGUAGES)
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.with_minimum_relative_distance(_MIN_RELATIVE_DISTANCE).build()


def _head(text: str, limit: int) -> str:
    """The first ``limit`` characters, cut at a space so the last word is whole."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit]


def detect_language(text: str) -> str:
    """ISO 639-1 code of ``text`` ('en', 'es', ...), or ``'und'`` when it is not clear.

    Only the first ``DETECT_CHARS`` characters are read.
    """
    head = _head(text, DETECT_CHARS)
    if not any(ch.isalpha() for ch in head):
        return UNDETERMINED
    found = _detector(low_accuracy=len(head) >= SHORT_TEXT_CHARS).detect_language_of(head)
    if found is None:
        return UNDETERMINED
    return found.iso_code_639_1.name.lower()
