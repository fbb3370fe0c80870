"""Which alert rules an article matches, with thousands of rules held at once.

Each article is analysed once; an Aho-Corasick automaton over the rules' anchors picks
the few rules that could match, and only those are evaluated in full.  ``naive_match``
evaluates every rule and is the baseline the benchmark and the tests compare against.

``match_within`` gives each rule a time budget per article: a rule past it is stopped
(the leaves check the deadline as they walk terms and positions) and reported, so the
caller can switch it off; the other rules of the article are still evaluated.  Time is
the matching thread's CPU time, and an overrun is confirmed by a second run from scratch
before it counts: on a machine shared with other processes, or during a garbage
collection pause, wall time would switch off rules that cost microseconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick

from pipeline.alerts.rules.anchors import anchors, features
from pipeline.alerts.rules.document import BudgetExceeded, Document
from pipeline.alerts.rules.parser import Language, parse_rule
from pipeline.alerts.rules.query import Query
from schemas.articles import EnrichedArticle


@dataclass(frozen=True, slots=True)
class _Index:
    """A snapshot of the rules; rebuilt after add/remove, on the next match."""

    ids: tuple[str, ...]
    queries: tuple[Query, ...]
    always: frozenset[int]
    automaton: ahocorasick.Automaton | None


def _build(rules: dict[str, Query]) -> _Index:
    keys: dict[str, list[int]] = {}
    always: list[int] = []
    for i, query in enumerate(rules.values()):
        found = anchors(query)
        if found is None:
            always.append(i)
        else:
            for key in found:
                keys.setdefault(key, []).append(i)
    automaton = None
    if keys:
        automaton = ahocorasick.Automaton()
        for key, positions in keys.items():
            automaton.add_word(key, tuple(positions))
        automaton.make_automaton()
    return _Index(tuple(rules), tuple(rules.values()), frozenset(always), automaton)


@dataclass(slots=True)
class MatchResult:
    """The rules an article fires, and the rules that ran past their budget (seconds)."""

    ids: list[str] = field(default_factory=list)
    over_budget: dict[str, float] = field(default_factory=dict)


class Matcher:
    """Holds parsed rules by id; ``match`` returns the ids of the rules an article fires.

    Rules are parsed when added, so a bad rule is refused (``RuleSyntaxError``) before
    it reaches the stream.  Ids come back in the order the rules were first added.
    """

    def __init__(self, rules: Iterable[tuple[str, str]] = ()) -> None:
        self._rules: dict[str, Query] = {}
        self._index: _Index | None = None
        for rule_id, query in rules:
            self.add(rule_id, query)

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def add(self, rule_id: str, query: str, *, language: Language = "lucene") -> None:
        """Add or replace a rule (a replaced rule keeps its place in the order)."""
        self._rules[rule_id] = parse_rule(query, language=language)
        self._index = None

    def remove(self, rule_id: str) -> bool:
        """Forget a rule; False if it was not there (tombstones may repeat)."""
        if self._rules.pop(rule_id, None) is None:
            return False
        self._index = None
        return True

    def match(self, article: EnrichedArticle) -> list[str]:
        return self.match_document(Document.of(article))

    def match_document(self, doc: Document) -> list[str]:
        """Like ``match`` for an article already analysed (one analysis, many uses)."""
        index, candidates = self._candidates(doc)
        queries = index.queries
        return [index.ids[i] for i in candidates if queries[i].matches(doc)]

    def match_within(self, article: EnrichedArticle | Document, budget: float) -> MatchResult:
        """Like ``match``, each rule stopped after ``budget`` CPU seconds on this article.

        A rule over budget (stopped, or finished late) twice in a row does not fire and
        is listed in ``over_budget`` with the time it took.
        """
        doc = article if isinstance(article, Document) else Document.of(article)
        index, candidates = self._candidates(doc)
        result = MatchResult()
        try:
            for i in candidates:
                hit, spent = _timed(index.queries[i], doc, budget)
                if spent is not None:
                    # Again from scratch (its leaves' memo set aside): a pause that was
                    # not the rule's doing does not happen twice in a row.
                    memo, doc.memo = doc.memo, {}
                    try:
                        hit, spent = _timed(index.queries[i], doc, budget)
                    finally:
                        doc.memo = memo
                if spent is not None:
                    result.over_budget[index.ids[i]] = spent
                elif hit:
                    result.ids.append(index.ids[i])
        finally:
            doc.deadline = math.inf
        return result

    def _candidates(self, doc: Document) -> tuple[_Index, list[int]]:
        index = self._index
        if index is None:
            index = self._index = _build(self._rules)
        candidates = set(index.always)
        if index.automaton is not None:
            for _, positions in index.automaton.iter(features(doc)):
                candidates.update(positions)
        return index, sorted(candidates)


def _timed(query: Query, doc: Document, budget: float) -> tuple[bool, float | None]:
    """Evaluate one rule: (hit, None) within ``budget``, else (False, CPU seconds spent)."""
    start = time.thread_time()
    doc.deadline = start + budget
    try:
        hit = query.matches(doc)
    except BudgetExceeded:
        return False, time.thread_time() - start
    spent = time.thread_time() - start
    return (False, spent) if spent >= budget else (hit, None)


def naive_match(
    rules: Iterable[tuple[str, str | Query]], article: EnrichedArticle | Document
) -> list[str]:
    """Every rule evaluated on the article: the baseline the matcher must equal."""
    doc = article if isinstance(article, Document) else Document.of(article)
    return [
        rule_id
        for rule_id, query in rules
        if (parse_rule(query) if isinstance(query, str) else query).matches(doc)
    ]
