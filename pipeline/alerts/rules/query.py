"""A parsed rule as Lucene would run it: term, phrase, wildcard and boolean queries.

The shapes mirror what Elasticsearch's ``query_string`` builds, so that evaluating them on
one analysed article gives the same yes/no as the index.  Leaves remember their answer in
the document's memo: thousands of rules share a few hundred terms.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.alerts.rules.document import Document
from pipeline.alerts.rules.wildcard import GlobPattern

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
            hit = any(self._in_field(doc.text[f].positions, doc) for f in self.fields)
            memo[self] = hit
        return hit

    def _in_field(self, positions: dict[str, list[int]], doc: Document) -> bool:
        lists = []
        for term in self.terms:
            found = positions.get(term)
            if found is None:
                return False
            lists.append(found)
        if self.slop == 0:
            rest = [set(p) for p in lists[1:]]
            for n, start in enumerate(lists[0]):
                if n & 1023 == 1023:
                    doc.check_budget()
                if all(start + i + 1 in s for i, s in enumerate(rest)):
                    return True
            return False
        if len(set(self.terms)) == len(self.terms):
            return _sloppy_match(lists, self.slop, doc)
        return _sloppy_match_repeated(self.terms, lists, self.slop, doc)


def _sloppy_match(lists: list[list[int]], slop: int, doc: Document) -> bool:
    """Is there one position per term with max(p_i - i) - min(p_i - i) <= slop?

    That is Lucene's ``SloppyPhraseMatcher`` criterion (its "match length"), for
    distinct terms: the smallest such window is found by the same sweep Lucene does (the
    smallest range covering one value of each sorted list), O(n log k).
    """
    shifted = [[p - i for p in plist] for i, plist in enumerate(lists)]
    heap = [(values[0], i, 0) for i, values in enumerate(shifted)]
    heapq.heapify(heap)
    high = max(values[0] for values in shifted)
    steps = 0
    while True:
        low, i, j = heap[0]
        if high - low <= slop:
            return True
        j += 1
        if j == len(shifted[i]):
            return False
        steps += 1
        if steps & 1023 == 0:
            doc.check_budget()
        value = shifted[i][j]
        heapq.heapreplace(heap, (value, i, j))
        high = max(high, value)


def _sloppy_match_repeated(
    terms: tuple[str, ...], lists: list[list[int]], slop: int, doc: Document
) -> bool:
    """The same criterion when a term repeats: its copies must take distinct positions.

    For one window ``[low, low + slop]`` of shifted positions, slot ``i`` may take a
    position of its term in ``[low + i, low + i + slop]``; the intervals of one term's
    slots have equal length and rising starts, so taking, slot after slot, the smallest
    free position finds an assignment whenever one exists.  Only windows starting at a
    shifted position can be the tightest, so those are tried: O(k·n·log n) at worst for
    k slots and n positions, never the k^n combinations of an exhaustive search.
    """
    groups: dict[str, list[int]] = {}
    for i, term in enumerate(terms):
        groups.setdefault(term, []).append(i)
    by_term = {term: lists[slots[0]] for term, slots in groups.items()}
    if any(len(by_term[term]) < len(slots) for term, slots in groups.items()):
        return False  # "refugee" ten times needs ten occurrences, whatever the slop
    highest = min(plist[-1] - i for i, plist in enumerate(lists))
    lowest = max(plist[0] - i for i, plist in enumerate(lists)) - slop
    starts = sorted({p - i for i, plist in enumerate(lists) for p in plist})
    for n, low in enumerate(starts[bisect_left(starts, lowest) :]):
        if low > highest:
            return False
        if n & 255 == 255:
            doc.check_budget()
        if _fits(groups, by_term, low, slop):
            return True
    return False


def _fits(groups: dict[str, list[int]], by_term: dict[str, list[int]], low: int, slop: int) -> bool:
    for term, slots in groups.items():
        positions = by_term[term]
        taken = -1
        for i in slots:
            j = bisect_left(positions, max(low + i, taken + 1))
            if j == len(positions) or positions[j] > low + i + slop:
                return False
            taken = positions[j]
    return True


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
    glob: GlobPattern = field(compare=False, repr=False)
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
        full = self.glob.fullmatch
        if self.keyword:
            values: Iterable[str] = doc.keywords[name]
        elif self.prefix:
            values = doc.text[name].terms_with_prefix(self.prefix)
        else:
            values = doc.text[name].sorted_terms
        for n, value in enumerate(values):
            if n & 255 == 255:
                doc.check_budget()
            if full(value):
                return True
        return False


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
