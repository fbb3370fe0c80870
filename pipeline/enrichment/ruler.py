"""Known names found in running text: the pipeline's ``EntityRuler``.

The model misses or cuts names it has not seen ("Salvamento Marítimo" becomes a person
called Salvamento, "Tarapacá" nothing); the gazetteer and the lexicon know them.  spaCy's
own ``EntityRuler`` would need every pattern tokenised at start-up (tens of thousands of
names, seconds per process) and a second pass over the tokens; one Aho-Corasick pass over
the folded characters finds the same matches in well under a millisecond per article.

What is searched: organisation, party and people names of two or more words or in
capitals (lexicon), names of countries and first-level regions (gazetteer).  A match must
be whole words and start with a capital; a place name right next to another capitalised
word is part of a longer name ("Chad Wolf", "Mexico City", "Latin America") and is left
to the model.  Matches win over the model's spans they cover (like ``overwrite_ents``);
a model span that covers a match ("University of Texas") is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import ahocorasick

from pipeline.enrichment.gazetteer import Gazetteer, fold, get_gazetteer
from pipeline.enrichment.lexicon import Lexicon, get_lexicon

RulerSpan = tuple[int, int, str]  # start, end, label (spaCy's scheme)

_WORD_BEFORE = re.compile(r"([^\W\d_][\w'’.-]*)[ ]$")
_WORD_AFTER = re.compile(r"[ ]([^\W\d_][\w'’-]*)")
_CAP = r"[A-Z\u00C0-\u00DE][^\W\d_]*(?:[-'’][^\W\d_]+)*"
_LOCATED = re.compile(
    rf"\b(?:in|at|from|near|outside|into|en|desde|hacia|hasta) ({_CAP}(?: {_CAP}){{0,2}})"
    r"(?![\w-]| [A-Z\u00C0-\u00DE])"
)


class Ruler:
    """Finds known names in a text; build once per process (``get_ruler``)."""

    def __init__(self, gaz: Gazetteer, lexicon: Lexicon) -> None:
        self._automaton = ahocorasick.Automaton()
        self._stop = gaz.is_common_word
        self._gaz, self._lexicon, self._given_names = gaz, lexicon, lexicon.given_names
        entries: dict[str, list[tuple[str, str, bool]]] = {}
        for name, known, exact in lexicon.patterns():
            key = fold(name)
            if " " not in key and not exact and known.label in ("ORG", "GPE") and (
                gaz.is_common_word(name)
                or key in lexicon.given_names
                or (known.label == "ORG" and gaz.places(name))
            ):
                continue  # "Fox", "Guardian": only relabelled where the model found them
            entries.setdefault(key, []).append((name, known.label, exact))
        for name in gaz.region_names:
            key = fold(name)
            single = " " not in key
            if len(key) < 4 or (single and key in lexicon.given_names) or gaz.is_common_word(name):
                continue
            if not gaz.is_label_place(name) or key in entries:
                continue
            exact = len(name) <= 5 and name.replace(".", "").isupper()
            entries.setdefault(key, []).append((name, "GPE", exact))
        for key, values in entries.items():
            self._automaton.add_word(key, values)
        self._automaton.make_automaton()

    def find(self, text: str) -> list[RulerSpan]:
        """Non-overlapping matches, leftmost-longest, in text order."""
        folded = _fold_same_length(text)
        found: list[RulerSpan] = self._located_towns(text)
        for end_index, values in self._automaton.iter(folded):
            end = end_index + 1
            for name, label, exact in values:
                start = end - len(fold(name))
                if self._accept(text, start, end, name, label, exact):
                    found.append((start, end, label))
                    break
        found.sort(key=lambda s: (s[0], -s[1]))
        kept: list[RulerSpan] = []
        for span in found:
            if kept and span[0] < kept[-1][1]:
                continue
            kept.append(span)
        return kept

    def _located_towns(self, text: str) -> list[RulerSpan]:
        """Towns the gazetteer trusts as labels, right after "in", "at", "from", "en",
        "desde"...: "rescued in Folkestone harbour".  The whole run of capitalised words
        must be the place ("in Mexico City", not "in Chad Wolf's office"), and a first
        name ("in Florence") is left to the model."""
        found: list[RulerSpan] = []
        for m in _LOCATED.finditer(text):
            name = m.group(1)
            key = fold(name)
            if (" " not in key and key in self._given_names) or self._lexicon.lookup(name):
                continue
            if self._gaz.is_label_place(name):
                found.append((m.start(1), m.end(1), "GPE"))
        return found

    def _accept(self, text: str, start: int, end: int, name: str, label: str, exact: bool) -> bool:
        if start < 0 or not text[start].isupper():
            return False
        if (start and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum()):
            return False
        if exact and text[start:end] != name:
            return False
        if label == "GPE":
            before = _WORD_BEFORE.search(text, max(0, start - 40), start)
            if before and before.group(1)[0].isupper() and not self._stop(before.group(1)):
                return False  # "Latin America", "New Mexico" spelt otherwise
            after = _WORD_AFTER.match(text, end)
            if after and after.group(1)[0].isupper() and not self._stop(after.group(1)):
                return False  # "Mexico City", "Chad Wolf"
            if text[end : end + 2].startswith(" ") and text[end + 1 : end + 2].isdigit():
                return False  # "Channel 4": a name with a number is something else
        return True


def merge(
    text: str, model: Sequence[tuple[int, int, str]], ruled: Sequence[RulerSpan]
) -> list[RulerSpan]:
    """The model's spans with the ruler's matches laid over them: a match replaces every
    span it overlaps ("La Guardia Costera" → "Guardia Costera italiana").  A span that
    contains matches keeps them inside when the rest of it is more name ("University of
    Texas" keeps "Texas" inside); when the rest is lowercase words or nothing, the span
    was a phrase around the names or two names run together, and the matches win ("el
    presidente de Estados Unidos", "Donald Trump White House")."""
    if not ruled:
        return list(model)
    taken = [
        r for r in ruled
        if not any(m[0] <= r[0] and r[1] <= m[1] and (m[0], m[1]) != r[:2]
                   and _more_name(text, m, ruled) for m in model)
    ]  # fmt: skip
    out: list[RulerSpan] = [
        tuple(m)  # type: ignore[misc]
        for m in model
        if not any(t[0] < m[1] and m[0] < t[1] for t in taken)
    ]
    out.extend(taken)
    return sorted(out)


# Words that may join the parts of one name ("University of Texas", "Banco de España").
_JOINERS = frozenset({"de", "del", "of", "the", "for", "and", "y", "e", "la", "las", "los",
                      "el", "on", "&", "-"})  # fmt: skip


def _more_name(text: str, span: tuple[int, int, str], ruled: Sequence[RulerSpan]) -> bool:
    """True when what ``span`` holds besides the matches inside it is more of a name: a
    capitalised word, and no lowercase word other than a joining word."""
    rest = list(text[span[0] : span[1]])
    for start, end, _ in ruled:
        if span[0] <= start and end <= span[1]:
            rest[start - span[0] : end - span[0]] = " " * (end - start)
    words = [w.strip(".,'’()") for w in "".join(rest).split()]
    words = [w for w in words if w and fold(w) not in _JOINERS]
    if not words:
        return False
    return all(w[0].isupper() or not w[0].isalpha() for w in words) and any(
        w[0].isupper() for w in words
    )


def _fold_same_length(text: str) -> str:
    """``fold`` one character at a time, so offsets in the result are offsets in ``text``."""
    if text.isascii():
        return text.lower()
    table = {ord(c): (fold(c)[:1] or c) for c in set(text) if not c.isascii()}
    folded = text.translate(table).lower()
    if len(folded) != len(text):  # a character whose lowercase is longer ("İ")
        folded = "".join((c.lower() if len(c.lower()) == 1 else c) for c in text.translate(table))
    return folded


@lru_cache(maxsize=1)
def get_ruler() -> Ruler:
    """The process's ruler, built on first use (after the gazetteer and the lexicon)."""
    return Ruler(get_gazetteer(), get_lexicon())
