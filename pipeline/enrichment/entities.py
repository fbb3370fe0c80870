"""From raw spaCy spans to one ``Entity`` per real-world thing per article.

The small models split one person over several spellings ("Rodrigo Delgado", "Delgado",
"Delgado's"), give one name different labels in different sentences, and call places
groups.  Analysts filter and aggregate on these names, so each entity gets one canonical
spelling and one label, decided over the whole article:

1. find: every span is trimmed (leading "the", possessive "'s", surrounding punctuation)
   and mapped onto one label scheme for both languages; junk (numbers, dates, lowercase
   fragments) is dropped; plural demonyms spaCy missed ("venezolanos") are added;
2. group: spans with the same folded text, and a surname with the one full name it ends;
3. annotate: majority label, overridden by the gazetteer (a country is a GPE, a demonym a
   NORP), and the best-cased spelling.

Mention offsets always point into the body as given (``body[m.start:m.end]`` is the
mention as written); only ``Entity.text`` is normalised.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.enrichment.gazetteer import Gazetteer, fold, get_gazetteer
from schemas import Entity, Mention

# spaCy labels (OntoNotes for English, WikiNER for Spanish) onto the schema's scheme;
# numbers, dates, money and the like are not things an analyst searches by.
_LABELS = {
    "PERSON": "PERSON", "PER": "PERSON", "ORG": "ORG", "GPE": "GPE", "LOC": "LOC",
    "NORP": "NORP", "FAC": "FAC", "EVENT": "EVENT", "MISC": "MISC", "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC", "LAW": "MISC", "LANGUAGE": "MISC",
}  # fmt: skip
_FIELDS = {"PERSON": "persons", "ORG": "orgs", "GPE": "places", "LOC": "places",
           "FAC": "places", "NORP": "nationalities"}  # fmt: skip
# Labels a city name may be corrected from.  Not ORG (companies named after towns:
# Nokia, Paramount) and never PERSON (people named after towns: Delgado, Florence).
_CITY_FIXES = frozenset({"NORP", "MISC", "LOC", "FAC", "GPE"})
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})

_EDGE_PUNCT = "\"'“”‘’«»()[]{}<>,;:!?*•·—–-_/\\|#~ \t\r\n"
_ARTICLES = {"en": ("the ",), "es": ("el ", "la ", "los ", "las ")}
_POSSESSIVE = ("'s", "’s", "'", "’")
_ABBREVIATIONS = frozenset({
    "inc", "corp", "co", "ltd", "jr", "sr", "st", "bros", "dept", "gov", "gen", "col", "lt",
    "sgt", "mt", "ft", "sa", "sl", "cía", "avda", "dr", "mr", "mrs", "ms",
})  # fmt: skip
_HAS_LETTER = re.compile(r"[^\W\d_]")
# Longer than any real name: a span that long is a run of text without spaces the model
# took for one (100k chars of "XyzXyz…"), and as a keyword Elasticsearch refuses the
# whole document (a term is at most 32,766 bytes).
_MAX_NAME_CHARS = 200
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_CAPITALISED = re.compile(r"(?<![^\W\d_])[A-Z\u00C0-\u00DE][^\W\d_]*(?:-[^\W\d_]+)*")


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    text: str
    label: str
    demonym_key: str | None = None


@dataclass(slots=True)
class _Group:
    key: str
    spans: list[_Span] = field(default_factory=list)
    person: bool = False  # a full name that absorbed its surname: a person, whatever votes


def refine_entities(
    body: str, spans: Sequence[tuple[int, int, str]], *, language: str
) -> list[Entity]:
    """One ``Entity`` per canonical name, in order of first mention.

    ``spans`` are spaCy's ``(start_char, end_char, label_)`` over ``body``; ``language``
    is the article's ISO 639-1 code (it picks articles to strip and demonyms to know).
    """
    gaz = get_gazetteer()
    found = [s for s in (_clean(body, *span, language=language, gaz=gaz) for span in spans) if s]
    found.extend(_missed_demonyms(body, found, language=language, gaz=gaz))
    groups = _group(found, gaz)
    entities = [_annotate(g, gaz, language=language) for g in groups]
    return sorted(entities, key=lambda e: e.mentions[0].start)


def keyword_fields(entities: Sequence[Entity]) -> dict[str, list[str]]:
    """Canonical names by keyword field (persons, orgs, places, nationalities)."""
    fields: dict[str, dict[str, None]] = {
        "persons": {}, "orgs": {}, "places": {}, "nationalities": {}
    }  # fmt: skip
    for entity in entities:
        name = _FIELDS.get(entity.label)
        if name:
            fields[name].setdefault(entity.text)  # an ordered set: first mention first
    return {name: list(texts) for name, texts in fields.items()}


# -- find ----------------------------------------------------------------------------


def _clean(
    body: str, start: int, end: int, label: str, *, language: str, gaz: Gazetteer
) -> _Span | None:
    mapped = _LABELS.get(label)
    if mapped is None:
        return None
    start, end = _whole_words(body, start, end, language=language, gaz=gaz)
    start, end = _trim(body, start, end, language=language, gaz=gaz)
    text = " ".join(body[start:end].split())
    if not 2 <= len(text) <= _MAX_NAME_CHARS or not _HAS_LETTER.search(text):
        return None
    demonym = gaz.demonym(text, language=language) if label != "LANGUAGE" else None
    if demonym is not None:
        return _Span(start, end, text, "NORP", demonym.key)
    if text[0].islower() and not any(c.isupper() for c in text.split()[0]):
        return None  # "ministro del Interior": a fragment, not a name (eBay, iPhone pass)
    return _Span(start, end, text, mapped)


def _whole_words(
    body: str, start: int, end: int, *, language: str, gaz: Gazetteer
) -> tuple[int, int]:
    """Grow a span cut at a hyphen to the compound group name it is part of: "Ibero" in
    "Ibero-American", "Colombian" in "Afro-Colombian" (but not "Arafat-Netanyahu")."""
    if end + 1 < len(body) and body[end] == "-" and body[end + 1].isupper():
        m = _WORD.match(body, end + 1)
        if m is not None and gaz.demonym(m.group(), language=language):
            end = m.end()
    if start >= 2 and body[start - 1] == "-" and body[start - 2].isalpha():
        word_start = start - 1
        while word_start > 0 and body[word_start - 1].isalpha():
            word_start -= 1
        if body[word_start].isupper() and gaz.demonym(body[start:end], language=language):
            start = word_start
    return start, end


def _trim(body: str, start: int, end: int, *, language: str, gaz: Gazetteer) -> tuple[int, int]:
    """Shrink ``[start, end)`` until it holds the name alone."""
    articles = _ARTICLES.get(language, _ARTICLES["en"])
    while True:
        before = (start, end)
        while start < end and body[start] in _EDGE_PUNCT + ".":
            start += 1
        while start < end and body[end - 1] in _EDGE_PUNCT:
            end -= 1
        text = body[start:end]
        for suffix in _POSSESSIVE:
            if text.endswith(suffix) and len(text) > len(suffix) + 1:
                end -= len(suffix)
                break
        text = body[start:end]
        lower = text.lower()
        for article in articles:
            # "the Hague" and "La Paz" are names; "la ONU" and "the UNHCR" are not.
            keep = article[0].isupper() or gaz.display_name(text) is not None
            if lower.startswith(article) and len(text) > len(article) and not keep:
                if article != "the " and text[0].isupper():
                    break  # Spanish capitalised articles are part of names (La Moneda)
                start += len(article)
                break
        if body[start:end].endswith(".") and not _keep_period(body[start:end], gaz):
            end -= 1
        if (start, end) == before:
            return start, end


def _keep_period(text: str, gaz: Gazetteer) -> bool:
    words = text[:-1].split()
    if not words:
        return False
    if gaz.places(text) and not gaz.places(text[:-1]):
        return True  # "Calif.", "N.M."
    last = words[-1]
    return "." in last or last.lower() in _ABBREVIATIONS or len(last) == 1


def _missed_demonyms(
    body: str, found: list[_Span], *, language: str, gaz: Gazetteer
) -> list[_Span]:
    """Plural demonyms no span covers: "los venezolanos" is a group of people to the
    analyst even though Spanish writes it lowercase and the model rarely tags it."""
    plurals = gaz.plural_demonyms(language=language)
    taken = sorted((s.start, s.end) for s in found)
    starts = [s for s, _ in taken]
    extra = []
    # English writes nationalities capitalised, so only capitalised words are looked up.
    for m in (_WORD if language == "es" else _CAPITALISED).finditer(body):
        word = m.group()
        demonym = plurals.get(word.lower() if word.isascii() else fold(word))
        if demonym is None:
            continue
        i = bisect_right(starts, m.start())  # the span starting at or before the word
        if (i and taken[i - 1][1] > m.start()) or (i < len(taken) and starts[i] < m.end()):
            continue
        extra.append(_Span(m.start(), m.end(), word, "NORP", demonym.key))
    return extra


# -- group ---------------------------------------------------------------------------


def _group(spans: list[_Span], gaz: Gazetteer) -> list[_Group]:
    groups: dict[str, _Group] = {}
    for span in sorted(spans, key=lambda s: s.start):
        key = f"norp:{span.demonym_key}" if span.demonym_key else fold(span.text)
        groups.setdefault(key, _Group(key)).spans.append(span)
    _fold_surnames(groups, gaz)
    return list(groups.values())


def _fold_surnames(groups: dict[str, _Group], gaz: Gazetteer) -> None:
    """Merge "Delgado" into "Rodrigo Delgado" when exactly one full name ends that way."""
    # Full names by each of their proper token suffixes ("delgado", "rodrigo delgado" for
    # "juan rodrigo delgado"): one lookup per group instead of a scan of every full name,
    # which made an article listing thousands of people take minutes.
    by_suffix: dict[tuple[str, ...], list[_Group]] = {}
    for g in groups.values():
        if " " in g.key and _majority(g) == "PERSON":
            tokens = g.key.split()
            for n in range(1, len(tokens)):
                by_suffix.setdefault(tuple(tokens[-n:]), []).append(g)
    for key in list(groups):
        group = groups[key]
        if group.key.startswith("norp:"):
            continue
        votes = {s.label for s in group.spans}
        if "PERSON" not in votes and (
            _majority(group) in _PLACE_LABELS or gaz.is_label_place(group.spans[0].text)
        ):
            continue  # "Costa" the place is not Jorge Costa; "Allamand" the "ORG" is
        owners = by_suffix.get(tuple(key.split()), [])
        if len(owners) == 1:
            owners[0].person = True
            owners[0].spans.extend(group.spans)
            owners[0].spans.sort(key=lambda s: s.start)
            del groups[key]


def _majority(group: _Group) -> str:
    votes = Counter(s.label for s in group.spans)
    best = max(votes.values())
    return next(s.label for s in group.spans if votes[s.label] == best)


# -- annotate ------------------------------------------------------------------------


def _annotate(group: _Group, gaz: Gazetteer, *, language: str) -> Entity:
    text = _canonical_text(group, gaz, language=language)
    return Entity(
        text=text,
        label=_label(group, text, gaz, language=language),
        count=len(group.spans),
        mentions=[Mention(start=s.start, end=s.end) for s in group.spans],
    )


def _label(group: _Group, text: str, gaz: Gazetteer, *, language: str) -> str:
    if group.key.startswith("norp:"):
        return "NORP"
    if group.person:
        return "PERSON"
    label = _majority(group)
    if label == "PERSON":
        return label
    candidates = gaz.places(text)
    if not candidates:
        return label
    best = candidates[0]
    if best.kind in ("country", "admin1") and gaz.is_label_place(text):
        return "GPE"
    if best.kind == "continent":
        return "LOC"
    if label in _CITY_FIXES and gaz.is_label_place(text):
        return "GPE"
    if label == "LOC" and language == "es" and best.kind == "city":
        return "GPE"  # WikiNER's LOC covers towns too small for the label list
    return label


def _canonical_text(group: _Group, gaz: Gazetteer, *, language: str) -> str:
    if group.key.startswith("norp:"):
        demonym = gaz.demonym(group.spans[0].text, language=language)
        return demonym.canonical if demonym else group.spans[0].text
    surfaces = Counter(s.text for s in group.spans)
    if len(group.key.split()) > 1:  # a folded surname never names its entity
        long_enough = {t: n for t, n in surfaces.items() if fold(t) == group.key}
        surfaces = Counter(long_enough) or surfaces
    cased = [t for t in surfaces if not t.isupper()]
    if not cased:
        only = next(iter(surfaces))
        return gaz.display_name(only) or _title_caps(only)
    first = {t: i for i, t in reversed(list(enumerate(s.text for s in group.spans)))}
    return min(cased, key=lambda t: (-surfaces[t], first[t]))


def _title_caps(text: str) -> str:
    """ "UNITED NATIONS" → "United Nations"; short words (US, EU) stay as they are."""
    if " " not in text:
        return text
    return " ".join(w.capitalize() if len(w) > 3 else w for w in text.split())
