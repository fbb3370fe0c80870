"""Finding cues: one Aho-Corasick pass over folded text yields every lexicon and rule hit.

Folding (lowercase, accents off, dashes and odd spaces to a plain space, curly quotes
straight) maps each character to exactly one character, so an offset in the folded text is
an offset in the original and evidence can point at what the analyst reads.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import ahocorasick

_ACCENTS = dict(zip("áàâäãåéèêëíìîïóòôöõúùûüç", "aaaaaaeeeeiiiiooooouuuuc", strict=True))
# Anything but a-z, 0-9 and space: accented letters lose the accent, other letters (ñ,
# other scripts) stay, everything else (punctuation, dashes, apostrophes, line breaks)
# becomes a space.  Then every word is delimited by spaces and the automaton's keys carry
# their own boundaries, which saves both the per-match checks and most spurious matches
# ("war" in "award").  Only these characters go through Python, so it stays cheap.
_ODD = re.compile(r"[^a-z0-9 ]")


def _swap(m: re.Match[str]) -> str:
    c = m.group()
    return _ACCENTS.get(c) or (c if c.isalnum() else " ")


def fold(text: str) -> str:
    """Lowercase, accent-free, punctuation as spaces; same length as ``text``."""
    low = text.lower()
    if len(low) != len(text):  # e.g. 'İ' lowercases to two code points
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return _ODD.sub(_swap, low)


def fold_term(term: str) -> str:
    return " ".join(fold(term).split())


class Hit(NamedTuple):
    slot: int
    start: int
    end: int


@dataclass
class _Entry:
    exact: list[int] = field(default_factory=list)
    prefix: list[int] = field(default_factory=list)


class CueIndex:
    """An automaton over the folded terms of one language; a term maps to the slots (lexicons
    or rules, numbered by the caller) it belongs to."""

    def __init__(self, terms: Iterable[tuple[str, int]]) -> None:
        entries: dict[str, _Entry] = {}
        for term, slot in terms:
            is_prefix = term.endswith("*")
            key = fold_term(term.rstrip("*"))
            if not key:
                continue
            entry = entries.setdefault(key, _Entry())
            bucket = entry.prefix if is_prefix else entry.exact
            if slot not in bucket:
                bucket.append(slot)
        # Keys are " term " (whole word) or " term" (prefix) over text padded with spaces.
        self._automaton = ahocorasick.Automaton()
        for key, entry in entries.items():
            if entry.exact:
                self._automaton.add_word(f" {key} ", (len(key) + 1, tuple(entry.exact), False))
            if entry.prefix:
                self._automaton.add_word(f" {key}", (len(key), tuple(entry.prefix), True))
        if entries:
            self._automaton.make_automaton()
        self._empty = not entries

    def find(self, folded: str) -> list[Hit]:
        """Every whole-word occurrence; a prefix term (``deport*``) runs to the end of its word."""
        if self._empty:
            return []
        hits: list[Hit] = []
        add = hits.append
        padded = f" {folded} "
        n = len(padded)
        # ``last`` is the index of the key's last character in ``padded``; offsets in
        # ``folded`` are one less than in ``padded``.
        for last, (length, slots, is_prefix) in self._automaton.iter(padded):
            if is_prefix:
                start = last - length
                stop = last + 1
                while stop < n and padded[stop] != " ":
                    stop += 1
                end = stop - 1
            else:
                start = last - length
                end = last - 1
            for slot in slots:
                add(Hit(slot, start, end))
        return hits


class Positions:
    """Where each context lexicon was seen, for 'is there one within N characters' queries."""

    def __init__(self) -> None:
        self._spans: dict[int, tuple[list[int], list[int]]] = {}

    def add(self, slot: int, start: int, end: int) -> None:
        starts, ends = self._spans.setdefault(slot, ([], []))
        starts.append(start)
        ends.append(end)

    def freeze(self) -> None:
        for slot, (starts, ends) in self._spans.items():
            order = sorted(range(len(starts)), key=starts.__getitem__)
            self._spans[slot] = ([starts[i] for i in order], [ends[i] for i in order])

    def has(self, slot: int) -> bool:
        return slot in self._spans

    def near(self, slot: int, start: int, end: int, window: int) -> bool:
        spans = self._spans.get(slot)
        if not spans:
            return False
        starts, ends = spans
        # Spans are short (a term or an entity), so any span within reach starts after
        # start - window - longest; scanning from there until starts pass end + window.
        i = bisect.bisect_left(starts, start - window - 200)
        limit = end + window
        while i < len(starts) and starts[i] <= limit:
            if ends[i] >= start - window:
                return True
            i += 1
        return False
