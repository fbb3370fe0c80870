"""Which article features can make a rule true: the keys of the candidate filter.

A rule's anchors are strings such that the rule cannot match an article containing
none of them.  An article is written out once as a string of its features (every
distinct term, every keyword value), and one Aho-Corasick pass over it finds all anchors
present, whatever the number of rules.  A rule without anchors (pure negation, a
wildcard that starts with ``*``) is evaluated for every article.
"""

from __future__ import annotations

from pipeline.alerts.rules.document import Document
from pipeline.alerts.rules.query import Bool, Keyword, Phrase, Query, Term, Wildcard

# Control characters never occur in an analysed term, so they delimit features.
_TERM, _END, _FIELD, _VALUE = "\x00", "\x01", "\x02", "\x03"


def _text_key(term: str, *, whole: bool = True) -> str:
    return f"{_TERM}{term}{_END}" if whole else f"{_TERM}{term}"


def _keyword_key(field: str, value: str, *, whole: bool = True) -> str:
    return f"{_FIELD}{field}{_VALUE}{value}{_END}" if whole else f"{_FIELD}{field}{_VALUE}{value}"


def features(doc: Document) -> str:
    """The article as one string in which anchors are searched."""
    parts = [_text_key(term) for term in doc.all_terms()]
    for field, values in doc.keywords.items():
        parts.extend(_keyword_key(field, value) for value in values)
    return "".join(parts)


def _cost(keys: frozenset[str]) -> tuple[int, int]:
    """Fewer keys first, then longer ones: long terms are rare terms."""
    return (len(keys), -min(len(k) for k in keys))


def anchors(query: Query) -> frozenset[str] | None:
    """A set of keys one of which every matching article contains, or None."""
    if isinstance(query, Term):
        return frozenset((_text_key(query.term),))
    if isinstance(query, Phrase):
        return frozenset((_text_key(max(query.terms, key=len)),))
    if isinstance(query, Keyword):
        return frozenset((_keyword_key(query.field, query.value),))
    if isinstance(query, Wildcard):
        if not query.prefix:
            return None
        if query.keyword:
            return frozenset(_keyword_key(f, query.prefix, whole=False) for f in query.fields)
        return frozenset((_text_key(query.prefix, whole=False),))
    if isinstance(query, Bool):
        if query.must:
            options = [a for a in map(anchors, query.must) if a is not None]
            return min(options, key=_cost) if options else None
        if query.should:
            union: set[str] = set()
            for clause in query.should:
                found = anchors(clause)
                if found is None:
                    return None
                union |= found
            return frozenset(union)
        return None
    raise TypeError(f"not a rule query: {query!r}")
