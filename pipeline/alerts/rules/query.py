"""A parsed rule as Lucene would run it: term, phrase, wildcard and boolean queries.

The shapes mirror what Elasticsearch's ``query_string`` builds, so that evaluating them on
one analysed article gives the same yes/no as the index.  Leaves remember their answer in
the document's memo: thousands of rules share a few hundred terms.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from itertools import product

from pipeline.alerts.rules.document import Document

# Elasticsearch's query_string turns a boolean query whose clauses are all negative
# (``NOT a``, ``(-a -b)``) into "everything except": it adds a match-all clause.
FIX_PURE_NEGATIVE = True


@dataclass(frozen=True, slots=True)
class Term:
    """One analysed term in one or more text fields (``fields`` are OR-ed)."""

    fields: tuple[str, ...]
    term: str

    def matches(self, doc: Document) -> bool:
        return self.term in doc.terms(self.fields)


@dataclass(frozen=True, slots=True)
class Phrase:
    """Terms at consecutive positions, or within ``slop`` moves (Lucene's sloppy phrase)."""

    fields: tuple[str, ...]
    terms: tuple[str, ...]
    slop: int = 0
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.fields, self.terms, self.slop)))

    def __hash__(self) -> int:  # memo key: hashed once, not on every lookup
        return self._hash

    def matches(self, doc: Document) -> bool:
        memo = doc.memo
        hit = memo.get(self)
        if hit is None:
            hit = any(self._in_field(doc.text[f].positions) for f in self.fields)
            memo[self] = hit
        return hit

    def _in_field(self, positions: dict[str, list[int]]) -> bool:
        lists = []
        for term in self.terms:
            found = positions.get(term)
            if found is None:
                return False
            lists.append(found)
        if self.slop == 0:
            rest = [set(p) for p in lists[1:]]
            return any(all(start + i + 1 in s for i, s in enumerate(rest)) for start in lists[0])
        return _sloppy_match(self.terms, lists, self.slop)


def _sloppy_match(terms: tuple[str, ...], lists: list[list[int]], slop: int) -> bool:
    """Is there one position per term with max(p_i - i) - min(p_i - i) <= slop?

    That is Lucene's ``SloppyPhraseMatcher`` criterion (its "match length").  Without
    repeated terms the smallest such window is found by the same sweep Lucene does (the
    smallest range covering one value of each sorted list); a repeated term must take
    distinct positions, which a small exhaustive search checks.
    """
    shifted = [[p - i for p in plist] for i, plist in enumerate(lists)]
    if len(set(terms)) == len(terms):
        heap = [(values[0], i, 0) for i, values in enumerate(shifted)]
        heapq.heapify(heap)
        high = max(values[0] for values in shifted)
        while True:
            low, i, j = heap[0]
            if high - low <= slop:
                return True
            j += 1
            if j == len(shifted[i]):
                return False
            value = shifted[i][j]
            heapq.heapreplace(heap, (value, i, j))
            high = max(high, value)
    for low in sorted({v for vs in shifted for v in vs}):
        window = [[v for v in vs if low <= v <= low + slop] for vs in shifted]
        if all(window):
            for choice in product(*window):
                real = [v + i for i, v in enumerate(choice)]
                if len(set(real)) == len(real):
                    return True
    return False


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """Lucene wildcard syntax: ``*`` any run, ``?`` one code point, ``\\`` escapes."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``migra*`` on text fields (pattern already lowercased) or on a keyword field.

    ``prefix`` is the literal text before the first wildcard: it narrows the terms
    tried here and anchors the rule in the matcher.
    """

    fields: tuple[str, ...]
    pattern: str
    prefix: str
    keyword: bool
    regex: re.Pattern[str] = field(compare=False, repr=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.fields, self.pattern, self.keyword)))

    def __hash__(self) -> int:
        return self._hash

    def matches(self, doc: Document) -> bool:
        memo = doc.memo
        hit = memo.get(self)
        if hit is None:
            hit = any(self._in_field(doc, f) for f in self.fields)
            memo[self] = hit
        return hit

    def _in_field(self, doc: Document, name: str) -> bool:
        full = self.regex.fullmatch
        if self.keyword:
            return any(full(v) for v in doc.keywords[name])
        text_field = doc.text[name]
        if self.prefix:
            return any(full(t) for t in text_field.terms_with_prefix(self.prefix))
        return any(full(t) for t in text_field.sorted_terms)


@dataclass(frozen=True, slots=True)
class Keyword:
    """An exact, case-sensitive value of a keyword field."""

    field: str
    value: str

    def matches(self, doc: Document) -> bool:
        return self.value in doc.keywords[self.field]


@dataclass(frozen=True, slots=True)
class Bool:
    """Lucene's BooleanQuery: all ``must``, no ``must_not``, and one ``should`` if no must."""

    must: tuple[Query, ...] = ()
    should: tuple[Query, ...] = ()
    must_not: tuple[Query, ...] = ()

    def matches(self, doc: Document) -> bool:
        for clause in self.must:
            if not clause.matches(doc):
                return False
        for clause in self.must_not:
            if clause.matches(doc):
                return False
        if self.must:
            return True
        if self.should:
            return any(clause.matches(doc) for clause in self.should)
        return FIX_PURE_NEGATIVE


Query = Term | Phrase | Wildcard | Keyword | Bool
