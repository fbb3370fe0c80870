"""A grammar of alert rules for hypothesis: what the property tests and the benchmark draw.

Rules are built over a vocabulary given by the caller (the words, adjacent word pairs and
keyword values of some corpus, so that rules match something), with random case, phrases
with and without slop (repeated terms included), wildcards (including the adversarial
``*?*?…`` and ``*a*a*…q`` shapes of issue 13), fields, keyword values and nested
AND/OR/NOT/+/-, in Lucene or in KQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

ABSENT = ("zebra", "quixotic", "a" * 40)
ADVERSARIAL = ("*?*?*?*?*?*?*?*?qq", "*?*?*?*?*?*?*?*?*?*?*?*?qq", "*a*a*a*a*q", "*a*a*a*a*a*q")


@dataclass(frozen=True)
class Vocabulary:
    words: Sequence[str]
    pairs: Sequence[tuple[str, str]]
    keywords: Sequence[tuple[str, str]]  # (field, value)


def _case(draw: st.DrawFn, word: str) -> str:
    return draw(st.sampled_from([word, word.upper(), word.capitalize()]))


@st.composite
def _term(draw: st.DrawFn, vocab: Vocabulary) -> str:
    return _case(draw, draw(st.sampled_from([*vocab.words, *ABSENT])))


@st.composite
def _phrase(draw: st.DrawFn, vocab: Vocabulary, kql: bool) -> str:
    a, b = draw(st.sampled_from(vocab.pairs))
    words = draw(st.sampled_from([[a, b], [b, a], [a, a], [a, b, a], [a, draw(_term(vocab))]]))
    text = '"' + " ".join(words) + '"'
    if not kql and draw(st.booleans()):
        text += f"~{draw(st.sampled_from([0, 1, 2, 3, 6, 50, 10_000]))}"
    return text


@st.composite
def _wildcard(draw: st.DrawFn, vocab: Vocabulary, kql: bool) -> str:
    word = draw(st.sampled_from(vocab.words)).lower()
    cut = draw(st.integers(1, max(1, len(word) - 1)))
    shapes = [word[:cut] + "*", "*" + word[cut:], word[:cut] + "*" + word[-1]]
    if not kql:
        shapes += [word[:cut] + "?" + word[cut + 1 :], "*" + "*".join(word[cut:]) + "*",
                   *ADVERSARIAL]
    return draw(st.sampled_from(shapes))


@st.composite
def _leaf(draw: st.DrawFn, vocab: Vocabulary, kql: bool) -> str:
    kind = draw(st.sampled_from(["term", "term", "phrase", "wildcard", "field", "keyword"]))
    if kind == "term":
        return draw(_term(vocab))
    if kind == "phrase":
        return draw(_phrase(vocab, kql))
    if kind == "wildcard":
        return draw(_wildcard(vocab, kql))
    if kind == "field":
        field = draw(st.sampled_from(["title", "body"]))
        value = st.one_of(_term(vocab), _phrase(vocab, kql), _wildcard(vocab, kql))
        return f"{field}:{draw(value)}"
    field, value = draw(st.sampled_from(vocab.keywords))
    if draw(st.booleans()) and len(value) > 2:
        return f"{field}:{value[:2].replace(' ', chr(92) + ' ')}*"
    return f'{field}:"{value}"'


def lucene_rules(vocab: Vocabulary, *, max_leaves: int = 6) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        pair = st.tuples(inner, inner)
        return st.one_of(
            pair.map(lambda t: f"({t[0]} AND {t[1]})"),
            pair.map(lambda t: f"({t[0]} OR {t[1]})"),
            pair.map(lambda t: f"({t[0]} {t[1]})"),
            pair.map(lambda t: f"({t[0]} AND NOT {t[1]})"),
            pair.map(lambda t: f"(+{t[0]} -{t[1]})"),
            inner.map(lambda t: f"(NOT {t})"),
            st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} AND {t[1]} OR {t[2]}"),
        )

    return st.recursive(_leaf(vocab, False), extend, max_leaves=max_leaves)


def kql_rules(vocab: Vocabulary, *, max_leaves: int = 6) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        pair = st.tuples(inner, inner)
        return st.one_of(
            pair.map(lambda t: f"({t[0]} and {t[1]})"),
            pair.map(lambda t: f"({t[0]} or {t[1]})"),
            inner.map(lambda t: f"not {t}"),
            st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} and {t[1]} or {t[2]}"),
            pair.map(lambda t: f"{t[0]} or not {t[1]}"),
        )

    return st.recursive(_leaf(vocab, True), extend, max_leaves=max_leaves)
