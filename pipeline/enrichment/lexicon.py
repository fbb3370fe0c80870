"""Known names that are not places: organisations, groups, people, given names, and the
Spanish words that are never names.

The small models split one organisation over its spellings ("DHS", "Homeland Security"),
call platforms and agencies persons ("Twitter", "Border Patrol") and parties nationalities
("Democrats"), and take Spanish sentence openers for names ("Según", "El Gobierno").  Lists
fix that cheaply and predictably, and an analyst can read and extend a list where no one
can retrain a model.  The files live in ``pipeline/enrichment/data/gazetteer/``; a
directory named by ``NEWSFLOW_ENTITY_DATA_DIR`` may hold more lines for the same files
(``organisations.tsv``, ``groups.tsv``, ``persons.tsv``, ``places.tsv``), read after the
shipped ones.

Lookups are dict accesses on folded keys (see ``gazetteer.fold``); names in capitals of up
to five letters (ICE, PP, UN) are matched in capitals only, since "ice" and "un" are words.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pipeline.enrichment.gazetteer import DATA_DIR, fold

_EXACT_CASE_MAX_LEN = 5
_EXTRA_DIR_VARIABLE = "NEWSFLOW_ENTITY_DATA_DIR"

NameKind = Literal["ORG", "PERSON", "NORP", "GPE"]
# spaCy's Spanish stop words that begin names ("Nueva York", "Gran Canaria", "Bajo
# Chiquito", "Primer Ministro" aside): never stripped as openers.
_NAME_WORDS = frozenset({
    "nueva", "nuevo", "nuevas", "nuevos", "gran", "grande", "grandes", "bajo", "buen",
    "buena", "bueno", "mayor", "primer", "primera", "primero", "alto", "alta", "largo",
    "santa", "santo", "san", "ultimo", "ultima", "último", "última", "general", "verdad",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class KnownName:
    """What a known name refers to: its label, its canonical name, and its group if any."""

    label: NameKind
    canonical: str
    group: str | None = None  # canonical name in the ``groups`` field (parties, religions)


class Lexicon:
    """Organisations, groups and people by every name they go by."""

    def __init__(self, directories: list[Path] | None = None) -> None:
        dirs = directories if directories is not None else _data_dirs()
        self._folded: dict[str, KnownName] = {}
        self._exact: dict[str, KnownName] = {}
        self._loose: dict[str, KnownName] = {}  # several words without their articles
        # One-word names of people ("Trump", "Bukele"): the file lists only names that
        # name one person, so they are worth finding where the model missed them.
        self._person_words: set[str] = set()
        self._org_words: set[str] = set()  # one-word canonical names: Frontex, Twitter
        self._place_words: set[str] = set()  # one-word camps and islands: Moria, Lampedusa
        for directory in dirs:
            self._add_organisations(directory / "organisations.tsv")
            self._add_groups(directory / "groups.tsv")
            self._add_persons(directory / "persons.tsv")
            self._add_places(directory / "places.tsv")
        self.given_names = _given_names()
        self.openers_es = _words(DATA_DIR / "openers_es.txt", with_stop_words=True)
        self.generic_es = _words(DATA_DIR / "generic_es.txt", with_stop_words=False)
        self.not_entities = _words(DATA_DIR / "not_entities.txt", with_stop_words=False)
        self.people_nouns_es = _words(DATA_DIR / "people_nouns_es.txt", with_stop_words=False)

    def lookup(self, name: str) -> KnownName | None:
        """The referent of ``name`` as written, or None.  Names of several words are also
        matched without their articles ("Organización de Estados Americanos" is the
        listed "Organización de los Estados Americanos")."""
        compact = name.replace(" ", "")
        if len(compact) <= _EXACT_CASE_MAX_LEN + 2 and compact.replace(".", "").isupper():
            found = self._exact.get(compact)
            if found is not None:
                return found
        key = fold(name)
        found = self._folded.get(key)
        if found is None and " " in key:
            found = self._loose.get(_loose(key))
        return found

    def is_generic_es(self, word: str) -> bool:
        """A Spanish institution noun or opener, singular or plural ("Alcaldes")."""
        key = fold(word)
        forms = [key]
        if key.endswith("s"):
            forms.append(key[:-1])
        if key.endswith("es"):
            forms.append(key[:-2])
        return any(k in self.generic_es or k in self.openers_es for k in forms if k)

    def patterns(self) -> list[tuple[str, KnownName, bool]]:
        """``(name, referent, exact_case)`` of every name worth finding in running text:
        names of two or more words, names in capitals, and the one-word names of people,
        organisations and places of the lists (Moria, Lampedusa).  Any
        other single word ("Fox", "House") only relabels a span the model found."""
        out = [(k, v, True) for k, v in self._exact.items()]
        out.extend(
            (k, v, False)
            for k, v in self._folded.items()
            if " " in k or "-" in k or k in self._person_words or k in self._org_words
            or k in self._place_words
        )
        return out

    # -- building --------------------------------------------------------------------

    def _add(self, name: str, known: KnownName) -> None:
        name = name.strip()
        if not name:
            return
        compact = name.replace(" ", "")
        if len(compact.replace(".", "")) <= _EXACT_CASE_MAX_LEN and compact.isupper():
            self._exact[compact] = known
        else:
            self._folded[fold(name)] = known
            if " " in name:
                self._loose.setdefault(_loose(fold(name)), known)

    def _add_organisations(self, path: Path) -> None:
        for fields in _rows(path):
            known = KnownName("ORG", fields[0])
            for name in (fields[0], *_names(fields, 1)):
                self._add(name, known)
            if " " not in fields[0]:
                self._org_words.add(fold(fields[0]))

    def _add_groups(self, path: Path) -> None:
        for fields in _rows(path):
            group = fields[0]
            people, parties = _names(fields, 1), _names(fields, 2)
            for name in people:
                self._add(name, KnownName("NORP", group, group))
            if parties:
                party = KnownName("ORG", parties[0], group)
                for name in parties:
                    self._add(name, party)

    def _add_places(self, path: Path) -> None:
        """Camps, crossings and border areas: places no gazetteer lists by name."""
        for fields in _rows(path):
            known = KnownName("GPE", fields[0])
            for name in (fields[0], *_names(fields, 2)):
                self._add(name, known)
            if " " not in fields[0].strip():
                self._place_words.add(fold(fields[0]))

    def _add_persons(self, path: Path) -> None:
        for fields in _rows(path):
            known = KnownName("PERSON", fields[0])
            for name in (fields[0], *_names(fields, 1)):
                self._add(name, known)
                if " " not in name.strip():
                    self._person_words.add(fold(name))


# Articles news writers add or leave out inside a name, and Spanish contractions of them.
_ARTICLE_WORDS = frozenset({"the", "el", "la", "los", "las", "les", "le", "l"})
_CONTRACTIONS = {"del": "de", "al": "a"}


def _loose(key: str) -> str:
    """A folded name without its articles: "organizacion de los estados americanos" and
    "organizacion de estados americanos", "the new york times" and "new york times"."""
    words = [_CONTRACTIONS.get(w, w) for w in key.replace("'", " ").split()]
    return " ".join(w for w in words if w not in _ARTICLE_WORDS) or key


def _data_dirs() -> list[Path]:
    extra = os.environ.get(_EXTRA_DIR_VARIABLE)
    return [DATA_DIR, *([Path(extra)] if extra else [])]


def _rows(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def _names(fields: list[str], column: int) -> list[str]:
    if len(fields) <= column:
        return []
    return [n.strip() for n in fields[column].split("|") if n.strip()]


def _words(path: Path, *, with_stop_words: bool) -> frozenset[str]:
    words = [w.strip() for w in path.read_text(encoding="utf-8").splitlines()]
    words = [w for w in words if w and not w.startswith("#")]
    if with_stop_words:
        from spacy.lang.es.stop_words import STOP_WORDS

        words.extend(w for w in STOP_WORDS if w not in _NAME_WORDS)
    return frozenset(fold(w) for w in words)


def _given_names() -> frozenset[str]:
    """First names from gender-guesser's dictionary (about 45,000 across Europe and the
    Americas), folded: evidence that "Carolina Valdivia" is a person, not a place."""
    import gender_guesser  # type: ignore[import-untyped]

    path = Path(gender_guesser.__file__).parent / "data" / "nam_dict.txt"
    names: set[str] = set()
    with path.open(encoding="iso8859-1") as f:
        for line in f:
            if line[:1] in "MF?=1" and line[:1] != "#" and len(line) > 30:
                name = line[3:29].strip()
                if name.isalpha() or "-" in name or " " in name:
                    names.add(fold(name.replace("+", "-")))
    return frozenset(names)


@lru_cache(maxsize=1)
def get_lexicon() -> Lexicon:
    """The process's lexicon, built on first use."""
    return Lexicon()
