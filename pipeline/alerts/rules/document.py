"""One article as the rules see it: analysed once, then shared by every rule."""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Container, Iterator
from dataclasses import dataclass, field

from pipeline.alerts.rules.analysis import DEFAULT_FIELDS, KEYWORD_FIELDS, TEXT_FIELDS, analyze
from schemas.articles import EnrichedArticle


@dataclass(slots=True)
class TextField:
    """The terms of one ``text`` field with their positions (for phrases)."""

    positions: dict[str, list[int]]
    sorted_terms: list[str]

    @classmethod
    def of(cls, text: str | None) -> TextField:
        positions: dict[str, list[int]] = {}
        if text:
            for i, token in enumerate(analyze(text)):
                slot = positions.get(token)
                if slot is None:
                    positions[token] = [i]
                else:
                    slot.append(i)
        return cls(positions, sorted(positions))

    def terms_with_prefix(self, prefix: str) -> Iterator[str]:
        """Terms starting with ``prefix``, found by bisection instead of a scan."""
        terms = self.sorted_terms
        i = bisect_left(terms, prefix)
        while i < len(terms) and terms[i].startswith(prefix):
            yield terms[i]
            i += 1


class BudgetExceeded(Exception):  # noqa: N818 - a signal between matcher and leaves
    """A rule ran past its time budget on this article; the matcher catches it."""


@dataclass(slots=True)
class Document:
    """Text fields analysed like the index does; keyword fields as exact value sets.

    ``deadline`` (a ``time.thread_time`` value) is set by the matcher before each rule;
    the leaves that loop over an article's terms or positions call ``check_budget`` as
    they go, so a rule stops at its budget instead of holding the event loop.
    """

    text: dict[str, TextField]
    keywords: dict[str, frozenset[str]]
    memo: dict[object, bool] = field(default_factory=dict)
    deadline: float = math.inf
    _terms: dict[tuple[str, ...], Container[str]] = field(default_factory=dict)

    def check_budget(self) -> None:
        """Raise ``BudgetExceeded`` once the current rule is past its deadline."""
        if time.thread_time() > self.deadline:
            raise BudgetExceeded

    @classmethod
    def of(cls, article: EnrichedArticle) -> Document:
        text = {name: TextField.of(getattr(article, name)) for name in TEXT_FIELDS}
        keywords: dict[str, frozenset[str]] = {}
        for name in KEYWORD_FIELDS:
            value = getattr(article, name)
            if value is None:
                keywords[name] = frozenset()
            elif isinstance(value, str):
                keywords[name] = frozenset((value,))
            else:
                keywords[name] = frozenset(value)
        doc = cls(text, keywords)
        for name, text_field in text.items():
            doc._terms[(name,)] = text_field.positions
        doc._terms[DEFAULT_FIELDS] = doc.all_terms()
        return doc

    def terms(self, fields: tuple[str, ...]) -> Container[str]:
        """The terms of some text fields together: one lookup answers a term query."""
        found = self._terms.get(fields)
        if found is None:
            found = self._terms[fields] = {t for f in fields for t in self.text[f].positions}
        return found

    def all_terms(self) -> set[str]:
        terms: set[str] = set()
        for text_field in self.text.values():
            terms.update(text_field.positions)
        return terms
