"""From raw spaCy spans to one ``Entity`` per real-world thing per article.

The small models split one person over several spellings ("Rodrigo Delgado", "Delgado",
"Delgado's"), give one name different labels in different sentences, and call places
groups.  Analysts filter and aggregate on these names, so each entity gets one canonical
spelling and one label, decided over the whole article:

1. find: every span is trimmed (leading "the", possessive "'s", surrounding punctuation)
   and mapped onto one label scheme for both languages; junk (numbers, dates, lowercase
   fragments) is dropped; plural demonyms spaCy missed ("venezolanos") are added;
2. group: spans with the same folded text, and a surname with the one full name it ends;
3. annotate: majority label, overridden by what is known (a country is a GPE unless the
   text gives person evidence, a demonym a NORP, "Twitter" an ORG, a party a group), and
   one canonical name across articles ("U.S." → "United States", "DHS" → "Department of
   Homeland Security", "Trump" → "Donald Trump").

The title is read too: spans come over ``article_text(title, body)`` and each mention says
which field its offsets point into (``title[m.start:m.end]`` or ``body[m.start:m.end]`` is
the mention as written); only ``Entity.text`` is normalised.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pipeline.enrichment.credits import find_credits, in_credit
from pipeline.enrichment.gazetteer import (
    CITY_AND_STATE,
    Demonym,
    Gazetteer,
    fold,
    get_gazetteer,
    not_a_people,
)
from pipeline.enrichment.lexicon import KnownName, Lexicon, get_lexicon
from pipeline.enrichment.nlp import ner_head
from pipeline.enrichment.ruler import get_ruler, merge
from pipeline.enrichment.words_en import get_english_words, is_plain_word
from pipeline.enrichment.words_es import get_spanish_words
from schemas import Entity, Mention

# Between the title and the body in the text NER reads: a paragraph break, so no span
# crosses it and the model reads the headline as a sentence of its own.
TITLE_SEPARATOR = "\n\n"

# spaCy labels (OntoNotes for English, WikiNER for Spanish) onto the schema's scheme;
# numbers, dates, money and the like are not things an analyst searches by.
_LABELS = {
    "PERSON": "PERSON", "PER": "PERSON", "ORG": "ORG", "GPE": "GPE", "LOC": "LOC",
    "NORP": "NORP", "FAC": "FAC", "EVENT": "EVENT", "MISC": "MISC", "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC", "LAW": "MISC", "LANGUAGE": "MISC",
}  # fmt: skip
# Labels a city name may be corrected from.  Not ORG (companies named after towns:
# Nokia, Paramount) and never PERSON (people named after towns: Delgado, Florence).
_CITY_FIXES = frozenset({"NORP", "MISC", "LOC", "FAC", "GPE"})
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
_AREAS = frozenset({"country", "admin1", "region"})  # place kinds no one is named after


def _folded(words: set[str]) -> frozenset[str]:
    """Word lists are compared with ``fold``ed words, so they are folded too: "cámara",
    "comisión", "señora" written with their accents would otherwise never match."""
    return frozenset(fold(w) for w in words)


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
# A word before a name that says the name is a person's, whatever else it names.
_PERSON_TITLES = _folded({
    "mr", "mrs", "ms", "miss", "dr", "sir", "dame", "lady", "lord", "president", "senator",
    "sen", "rep", "gov", "governor", "mayor", "minister", "secretary", "judge", "justice",
    "general", "gen", "pope", "king", "queen", "prince", "princess", "chancellor", "premier",
    "sr", "sra", "srta", "señor", "señora", "don", "doña", "presidente", "presidenta",
    "ministro", "ministra", "senador", "senadora", "diputado", "diputada", "alcalde",
    "alcaldesa", "gobernador", "gobernadora", "juez", "jueza", "papa", "rey", "reina",
    "canciller", "secretario", "secretaria", "portavoz", "activist", "activista",
})  # fmt: skip
# Last words of laws, treaties and programmes, first words of storms and similar events:
# the model calls them organisations or places; analysts do not filter on them as such.
_WORK_LAST = _folded({
    "act", "acts", "bill", "treaty", "accord", "pact", "compact", "amendment", "status",
    "doctrine", "ley", "pacto", "tratado", "estatuto", "enmienda",
})  # fmt: skip
_EVENT_FIRST = _folded({"hurricane", "storm", "typhoon", "cyclone", "huracán", "tormenta",
                          "tifón", "ciclón"})  # fmt: skip
_MARKER = re.compile(r"[^\W\d_]\.\d")  # "Min.36": a minute, a page, a figure
_LETTERLESS_TAIL = re.compile(r"\s+[^\w\s]*\d[^\s]*$|\s+[^\w\s]+$")
_NEXT_WORD = re.compile(r"[ ]([A-Z][a-z]+)\b")


def _word_pattern(word: str) -> str:
    """A pattern of ``word`` not inside a longer word (letters on neither side)."""
    return rf"(?<![^\W\d_]){re.escape(word)}(?![^\W\d_])"


def _written_lowercase(text: str, word: str) -> bool:
    return re.search(_word_pattern(word.lower()), text) is not None


def _written_small(body: str, word: str, *, language: str) -> bool:
    """Whether a word in capitals is an ordinary word: the text writes it in lowercase,
    or (Spanish) the language's vocabulary has it."""
    if language == "es" and get_spanish_words().is_common_word(word.capitalize()):
        return True
    return _written_lowercase(body, word)


def _portfolio(body: str, end: int) -> bool:
    """A one-word span right before a capitalised title ("Interior Minister", "Home
    Secretary") names a portfolio, not an organisation."""
    m = _NEXT_WORD.match(body, end)
    return m is not None and fold(m.group(1)) in _PERSON_TITLES


_TITLE_BEFORE = re.compile(r"([^\W\d_]+)(\.?) $")
_ABBREVIATION_MAX = 5  # "Gen.", "Sra.", "Srta." — not "general." ending a sentence
_TITLE_ABBREVIATIONS = frozenset({"sr", "sra", "srta", "dr", "dra", "mr", "mrs", "ms"})


def _word_before(body: str, start: int) -> str:
    """The folded word right before ``start``: "mr" for "Mr. ", "en" for "en ".  A word
    with a period counts only as a capitalised abbreviation ("Gen. Ana Ruiz"): "…un paro
    general. Inversores…" has no title before "Inversores", only the end of a sentence."""
    m = _TITLE_BEFORE.search(body, max(0, start - 30), start)
    if m is None:
        return ""
    short = m.group(1)[0].isupper() and len(m.group(1)) <= _ABBREVIATION_MAX
    if m.group(2) and not (short or fold(m.group(1)) in _TITLE_ABBREVIATIONS):
        return ""
    return fold(m.group(1))
# Last words that make a run of capitalised words a place or an organisation, not a
# person whose first name is also a place ("Carolina Valdivia" is a person).
_NOT_PERSON_HEADS = _folded({
    "university", "universidad", "institute", "instituto", "party", "partido", "foundation",
    "fundación", "group", "grupo", "center", "centre", "centro", "council", "consejo",
    "court", "corte", "tribunal", "bank", "banco", "news", "times", "post", "journal",
    "hospital", "school", "escuela", "college", "church", "iglesia", "street", "calle",
    "avenue", "avenida", "road", "bridge", "puente", "airport", "aeropuerto", "county",
    "condado", "city", "ciudad", "island", "islands", "isla", "islas", "province",
    "provincia", "region", "región", "valley", "valle", "river", "río", "lake", "lago",
    "mountains", "park", "parque", "square", "plaza", "hall", "house", "casa", "act", "ley",
    "agency", "agencia", "ministry", "ministerio", "department", "departamento", "company",
    "corp", "inc", "ltd", "association", "asociación", "committee", "comité", "network",
    "red", "project", "proyecto", "program", "programa", "fund", "fondo", "service",
    "servicio", "office", "oficina", "police", "policía", "guard", "guardia", "army",
    "ejército", "navy", "armada", "force", "forces", "fuerza", "fuerzas", "coast", "costa",
    "border", "frontera", "state", "estado", "republic", "república", "union", "unión",
})  # fmt: skip
# First or last words that make a run of capitalised words an organisation: "Ministerio
# del Interior", "Tribunal Supremo", "Refugee Council", "Vanguard Group".
_ORG_FIRST = _folded({
    "ministerio", "ministry", "department", "departamento", "secretaría", "subsecretaría",
    "subdelegación", "delegación", "tribunal", "court", "corte", "consejo", "council",
    "comisión", "commission", "comité", "committee", "agencia", "agency", "oficina",
    "office", "instituto", "institute", "servicio", "service", "policía", "police",
    "guardia", "guard", "unión", "union", "marina", "navy", "armada", "fuerza", "fuerzas",
    "partido", "party", "fundación", "foundation", "asociación", "association",
    "universidad", "university", "banco", "bank", "organización", "organization",
    "organisation", "federación", "federation", "confederación", "sindicato", "cámara",
    "ayuntamiento", "junta", "dirección", "defensor", "defensoría", "fiscalía", "coalición",
    "coalition", "programa", "fondo", "fund", "centro", "center", "centre", "ejército",
    "army", "movimiento", "movement", "bureau", "board", "autoridad", "authority",
    "parlamento", "parliament", "congreso", "senado", "asamblea", "assembly", "gobierno",
    "red", "network", "alto", "audiencia", "sala", "consorcio", "inspección", "agrupación",
    "colegio",
})  # fmt: skip
_ORG_LAST = _folded({
    "inc", "corp", "corporation", "ltd", "llc", "plc", "group", "party", "council",
    "committee", "association", "union", "foundation", "institute", "university",
    "agency", "bank", "company", "network", "commission", "court", "office", "department",
    "ministry", "service", "police", "coastguard", "guard", "army", "navy", "authority",
    "board", "bureau", "coalition", "federation", "fund", "project", "campaign", "caucus",
    "alliance", "society", "trust", "times", "post", "news", "journal", "press", "tribune",
})  # fmt: skip
_LINKING_WORDS = _folded({"de", "del", "la", "las", "los", "el", "of", "the", "for", "y",
                            "and", "a", "al", "en", "in"})  # fmt: skip
# Words before a one-word place that make it the place, whatever the model says.
_PLACE_BEFORE = _folded({"in", "at", "from", "near", "to", "into", "across", "outside",
                           "of", "en", "desde", "hacia", "cerca", "hasta"})  # fmt: skip
_FIELD_LABELS = {"PERSON": "persons", "ORG": "orgs", "GPE": "places", "LOC": "places",
                 "FAC": "places"}  # fmt: skip


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    text: str
    label: str
    demonym_key: str | None = None
    known: KnownName | None = None  # an organisation, group or person the lexicon knows
    titled: bool = False  # "Mr", "presidente"... right before: a person, whatever it names
    located: bool = False  # "in", "desde", "la cárcel de"... right before: a place
    club: bool = False  # "el Sevilla": a club or company named after a city
    facility: str | None = None  # "port of entry" after "DeConcini": what the name names
    named_place: bool = False  # "el puente Atanasio Girardot": a facility named after someone
    credit: bool = False  # an agency named in a dateline or credit: the story's source


@dataclass(slots=True)
class _Group:
    key: str
    spans: list[_Span] = field(default_factory=list)
    person: bool = False  # a full name that absorbed its surname: a person, whatever votes

    @property
    def has_person_evidence(self) -> bool:
        """A full name it is the surname of, a title before a mention, or a known name."""
        return self.person or any(s.titled or s.known for s in self.spans)


def article_text(title: str | None, body: str) -> str:
    """What NER reads: the title, a paragraph break, the body (the body alone if untitled)."""
    return f"{title}{TITLE_SEPARATOR}{body}" if title else body


def refine_entities(
    body: str,
    spans: Sequence[tuple[int, int, str]],
    *,
    language: str,
    title: str | None = None,
) -> list[Entity]:
    """One ``Entity`` per canonical name, title mentions first, then in body order.

    ``spans`` are spaCy's ``(start_char, end_char, label_)`` over ``article_text(title,
    body)``; ``language`` is the article's ISO 639-1 code (it picks articles to strip and
    demonyms to know).
    """
    gaz, lexicon = get_gazetteer(), get_lexicon()
    text = article_text(title, body)
    spans = _split_lines(text, _split_credits(text, spans))
    spans = _join_org_heads(text, _split_possessives(text, spans, gaz, lexicon), gaz, lexicon)
    # The known names the ruler adds come from the part NER read, as the model's spans do:
    # a 1 MB body of place names must not make an unbounded entity list.
    spans = merge(text, spans, get_ruler().find(ner_head(text)))
    credits = find_credits(ner_head(text), gaz, lexicon)
    # bylines, photographers, datelines: no mentions
    spans = [s for s in spans if not in_credit(credits.ranges, s[0], s[1])]
    cleaned = (_clean(text, *span, language=language, gaz=gaz, lexicon=lexicon) for span in spans)
    found = [s for s in cleaned if s]
    found.extend(_agency(text, start, end, lexicon) for start, end in credits.agencies)
    found.extend(_missed_demonyms(text, found, language=language, gaz=gaz, lexicon=lexicon))
    found.extend(_missed_surnames(text, found, gaz, lexicon, language=language))
    _coordinated_places(text, found)
    if credits.ranges:  # a surname or demonym found again inside a credit is no mention either
        found = [s for s in found if s.credit or not in_credit(credits.ranges, s.start, s.end)]
    groups = _group(found, gaz)
    body_start = len(title) + len(TITLE_SEPARATOR) if title else 0
    # First names of the people the article names in full: "Chad" after "Chad Smith" is
    # him, not the country.
    first_names = {
        g.key.split()[0]
        for g in groups
        if " " in g.key and _majority(g) == "PERSON" and g.key.split()[0] in lexicon.given_names
    }
    entities = [
        _annotate(g, gaz, lexicon, language=language, body_start=body_start,
                  first_names=first_names, article=text)
        for g in groups
    ]  # fmt: skip
    found_entities = _merge_same(e for e in entities if e is not None)
    return sorted(
        found_entities, key=lambda e: (e.mentions[0].field != "title", e.mentions[0].start)
    )


def _merge_same(entities: Iterable[Entity]) -> list[Entity]:
    """Groups whose canonical names and labels came out equal ("Chechen" and "Chechens",
    "Efe" and "EFE") are one entity: an analyst counts one value once per article."""
    merged: dict[tuple[str, str], Entity] = {}
    for entity in entities:
        key = (entity.text, entity.label)
        first = merged.get(key)
        if first is None:
            merged[key] = entity
            continue
        mentions = sorted([*first.mentions, *entity.mentions],
                          key=lambda m: (m.field != "title", m.start))  # fmt: skip
        merged[key] = first.model_copy(
            update={"mentions": mentions, "count": first.count + entity.count}
        )
    return list(merged.values())


def keyword_fields(entities: Sequence[Entity]) -> dict[str, list[str]]:
    """Canonical names by keyword field (persons, orgs, places, nationalities, groups,
    agencies).

    A party's members or a creed's believers are a group, never a nationality:
    "Democrats", "los populares" go to ``groups``.  The party itself ("Democratic Party",
    "el PP") is an organisation and goes to ``orgs`` only, so each value has one field.
    An agency named in a dateline or a credit is the story's source: it goes to
    ``agencies``, and to ``orgs`` only when the story mentions it too.
    """
    fields: dict[str, dict[str, None]] = {
        "persons": {}, "orgs": {}, "places": {}, "nationalities": {}, "groups": {},
        "agencies": {},
    }  # fmt: skip
    lexicon = get_lexicon()
    for entity in entities:
        if any(m.credit for m in entity.mentions):
            fields["agencies"].setdefault(entity.text)
            if all(m.credit for m in entity.mentions):
                continue
        known = lexicon.lookup(entity.text)
        group = known.group if known is not None else None
        if group is not None and entity.label == "NORP":
            fields["groups"].setdefault(group)
        if entity.label == "NORP":
            if group is None and _political(entity.text):
                fields["groups"].setdefault(_plural_creed(entity.text))  # "Socialists"
            elif group is None:
                fields["nationalities"].setdefault(entity.text)
            continue
        name = _FIELD_LABELS.get(entity.label)
        if name:
            fields[name].setdefault(entity.text)  # an ordered set: first mention first
    return {name: list(texts) for name, texts in fields.items()}


# Words for people by their politics or creed rather than their country: a "-ist" word
# ("Socialists", "Zionist", "islamistas") or one of these.
_POLITICAL_WORDS = _folded({
    "liberal", "liberals", "progressive", "progressives", "libertarian", "libertarians",
    "green", "greens", "leftist", "radical", "radicals", "centre-right", "centre-left",
    "center-right", "center-left", "far-right", "far-left", "left-wing", "right-wing",
    "alt-right", "ultraderecha", "izquierda", "derecha", "progresista", "progresistas",
    "ultraderechista", "ultraderechistas", "izquierdista", "izquierdistas",
})  # fmt: skip
_CREED_ENDINGS = ("ist", "ists", "ista", "istas", "ite", "ites")


def _plural_creed(text: str) -> str:
    """"Marxist" and "Marxists", "comunista" and "comunistas": one value, the plural."""
    return f"{text}s" if text.endswith(("ist", "ite", "ista")) else text


def _political(text: str) -> bool:
    words = fold(text).split()
    last = words[-1] if words else ""
    return last in _POLITICAL_WORDS or last.endswith(_CREED_ENDINGS) or any(
        w.startswith(("far-", "ultra")) for w in words
    )


# -- find ----------------------------------------------------------------------------


def _agency(text: str, start: int, end: int, lexicon: Lexicon) -> _Span:
    """The agency a credit names ("AP", "EFE"): an organisation by its listed name when
    the lexicon knows it ("AP" is the Associated Press), as written otherwise."""
    name = text[start:end]
    known = lexicon.lookup(name) or _acronym_in_title_case(name, "ORG", lexicon)
    if known is not None and known.label != "ORG":
        known = None
    return _Span(start, end, name, "ORG", known=known, credit=True)


def _clean(
    body: str,
    start: int,
    end: int,
    label: str,
    *,
    language: str,
    gaz: Gazetteer,
    lexicon: Lexicon,
) -> _Span | None:
    mapped = _LABELS.get(label)
    if mapped is None:
        return None
    start, end = _whole_words(body, start, end, language=language, gaz=gaz)
    start, end = _trim(body, start, end, language=language, gaz=gaz, lexicon=lexicon)
    of_group = None
    if language == "es":
        # "Vocal de X": before the openers, which would take "Vocal" and leave "de X"
        start, end, of_group = _strip_group_of(body, start, end, gaz=gaz, lexicon=lexicon)
        start, end = _strip_openers(body, start, end, gaz=gaz, lexicon=lexicon)
        if mapped == "PERSON":
            start = _given_name_before(body, start, end, lexicon)
    start, end, titled = _strip_lowercase(body, start, end, language=language, gaz=gaz)
    if mapped == "PERSON" and lexicon.lookup(body[start:end]) is None:
        start, titled = _strip_titles(body, start, end, titled)
        while (m := _LETTERLESS_TAIL.search(body, start, end)) is not None and m.start() > start:
            end = m.start()  # "Williams 1-6, 4-6": a score, not part of the name
        if language == "en":
            start, end = _person_core_en(body, start, end, lexicon)
    text = " ".join(body[start:end].split())
    if not 2 <= len(text) <= _MAX_NAME_CHARS or not _HAS_LETTER.search(text):
        return None
    if body[start - 1 : start] in ("#", "@") or text[0] in "#@":
        return None  # a hashtag or a handle, not a name
    if fold(text) in lexicon.not_entities:
        return None  # "COVID-19": tagged as a person or an org, filtered on as neither
    known = lexicon.lookup(text) or _acronym_in_title_case(text, mapped, lexicon)
    if known is not None:
        return _Span(start, end, text, known.label, known=known)
    demonym = gaz.demonym(text, language=language) if label != "LANGUAGE" else None
    if demonym is not None:
        if language == "es" and text[0].islower() and not _names_people_es(
            body, start, demonym, lexicon
        ):
            return None  # "el ministro griego", "los países europeos": an adjective
        return _Span(start, end, text, "NORP", demonym.key)
    if mapped == "NORP":
        if not_a_people(text):
            return None  # "Western", "anti-Asian": a direction or an attitude, no people
        people = gaz.people_word(text, language=language)
        if people is not None and not people.key.startswith("people:"):
            return _Span(start, end, text, "NORP", people.key)  # "Cuban-American"
        # An unlisted word read as a people by its ending stays open to the evidence the
        # article gives ("Ladjevardian" after "Hamid Ladjevardian" is him): its one value
        # ("Chechens") is settled once the label is.
    if text[0].islower() and not any(c.isupper() for c in text.split()[0]):
        return None  # "ministro del Interior": a fragment, not a name (eBay, iPhone pass)
    words = text.split()
    if mapped in ("PERSON", "ORG", "GPE", "LOC", "FAC") and (
        fold(words[-1]) in _WORK_LAST or fold(words[0]) in _EVENT_FIRST
    ):
        return None  # "Public Health Service Act", "Hurricane Eta": laws and events
    if mapped == "ORG" and len(words) == 1 and _portfolio(body, end):
        return None  # "Interior" in "Interior Minister Gerald Darmanin"
    if mapped == "PERSON" and (_POSSESSIVE_INSIDE.search(text) or " - " in text):
        return None  # "Young People's Literature", "Splinter Cell - Pandora": titles
    if mapped == "PERSON" and text.isupper() and " " not in text and len(text) > 4:
        return None  # "CLAIM:", "UPDATE:": a word in capitals, no one's name
    if mapped == "ORG" and text.isupper() and " " not in text and len(text) > 4 and (
        _written_small(body, text, language=language)
    ):
        return None  # "PERSONAS", "CARCEL": a headline word in capitals, no organisation
    if (mapped == "PERSON" and any(c.isdigit() for c in text)) or _MARKER.search(text):
        return None  # "Min.70", "Page 2": a marker or a number, no one's name
    if language == "es" and all(lexicon.is_generic_es(w) for w in text.split()):
        return None  # "Gobierno", "Comisión": a name only with what follows
    if _portfolio_of_title(body, start, text, gaz=gaz, lexicon=lexicon):
        return None  # "la ministra de Economía", "Minister of Justice": a portfolio
    after = _PLACE_AFTER.match(body, end)
    if (after is not None and len(text.split()) <= 2
            and lexicon.lookup(text) is None and not gaz.places(text)):  # fmt: skip
        facility = " ".join(after.group().split())
        # "the DeConcini port of entry"
        return _Span(start, end, text, "FAC", located=True, facility=facility)
    if mapped != "ORG" and _named_by_org_noun(body, start) and not gaz.is_label_place(text):
        mapped = "ORG"  # "la organización Maldita", "el buque Aita Mari", "the charity X"
    if of_group is not None:
        mapped = of_group  # "Fuentes de Salvamento Marítimo", "Jueces de San Roque"
    word = _word_before(body, start)
    titled = titled or word in _PERSON_TITLES or _apposition_of_title(body, start, text, lexicon)
    located = (word in _PLACE_BEFORE or _after_place_noun(body, start)
               or _ORIGIN_BEFORE.search(body, max(0, start - 30), start) is not None
               or (of_group == "GPE"))  # fmt: skip
    club = language == "es" and _club_article(body, start, text, gaz)
    if (language == "es" and mapped == "PERSON" and not titled and " " not in text
            and not club and _ARTICLE_BEFORE.search(body, max(0, start - 5), start)
            and not gaz.places(text)):  # fmt: skip
        mapped = "ORG"  # "según la Aemet": Spanish writes no article before a person's name
    if not titled and _FACILITY_BEFORE.search(body, max(0, start - 30), start):
        # "el puente Atanasio Girardot": a place named after someone
        return _Span(start, end, text, "FAC", located=True, named_place=True)
    return _Span(start, end, text, mapped, titled=titled, located=located, club=club)


# A facility noun with its article right before a name, without "de": Spanish names
# bridges, power plants, stadiums and hospitals after people ("la central Antonio
# Guiteras", "el estadio Santiago Bernabéu"), and the noun says it is the place.
_FACILITY_BEFORE = re.compile(
    r"(?<![^\W\d_])(?:la|de la) central $"  # "el central Dean Huijsen" plays in defence
    r"|(?<![^\W\d_])(?:el|la|los|las|del|al) (?:puente|estadio|hospital|aeropuerto"
    r"|presa|embalse|polideportivo|pabellón|pabellon|prisión|prision|cárcel|carcel"
    r"|centro penitenciario|barrio|campamento|colegio público|instituto público) $",
    re.IGNORECASE,
)
_ARTICLE_BEFORE = re.compile(r"(?<![^\W\d_])(?:el|la|los|las|del|al) $")
_AND = frozenset({" y ", " e ", " and "})  # not a comma: "En Madrid, Sánchez dijo…"


def _coordinated_places(text: str, found: list[_Span]) -> None:
    """The second of two names joined by "y" or "and" is placed as the first is:
    "los centros de Shëngjin y Gjadër", "in Lyon and Grenoble"."""
    spans = sorted(found, key=lambda s: s.start)
    for first, second in zip(spans, spans[1:], strict=False):
        if first.located and not first.titled and not second.titled and (
            text[first.end : second.start] in _AND
        ):
            second.located = True


_BRACKET_OPEN = re.compile(r"\s*[(\[]")


def _person_core_en(body: str, start: int, end: int, lexicon: Lexicon) -> tuple[int, int]:
    """The name inside an English "person" span that took in its surroundings: a handle
    or note in brackets after it ("Ilhan Omar (@IlhanMN"), a platform before it ("Twitter
    Erin Durkin", from "Follow us on Twitter"), and a headline's verb after it ("Stephen
    Miller Warns OF"): a given name must open what is left."""
    m = _BRACKET_OPEN.search(body, start, end)
    if m is not None and m.start() > start:
        end = m.start()
    words = list(re.finditer(r"\S+", body[start:end]))
    if len(words) >= 3:
        known = lexicon.lookup(words[0].group())
        if known is not None and known.label == "ORG" and (
            fold(words[1].group()) in lexicon.given_names
        ):
            start += words[1].start()
            words = list(re.finditer(r"\S+", body[start:end]))
    if len(words) >= 3 and fold(words[0].group()) in lexicon.given_names:
        vocabulary = get_english_words()
        for i in range(2, len(words)):
            word = words[i].group()
            if word.lower() in _HEADLINE_SMALL_WORDS or (
                i + 1 < len(words) and word.endswith(_VERB_ENDINGS)
                and vocabulary.is_verb_form(word) and not vocabulary.lemmas_of(word, "noun")
            ):  # fmt: skip
                if i > 2 and words[i - 1].group().endswith(_VERB_ENDINGS) and (
                    word.lower() in _HEADLINE_SMALL_WORDS
                ):
                    i -= 1  # "Warns" before "OF": the headline's verb
                end = start + words[i - 1].end()
                for suffix in _POSSESSIVE[:2]:
                    end -= len(suffix) if body[start:end].endswith(suffix) else 0
                return start, end
    return start, end


# Words a Title Case headline writes after a name that no name holds ("Miller Warns OF").
_HEADLINE_SMALL_WORDS = frozenset({"of", "on", "to", "in", "for", "and", "the", "at", "with",
                                   "over", "after", "says", "said"})  # fmt: skip
_VERB_ENDINGS = ("s", "ed", "ing")


def _acronym_in_title_case(text: str, mapped: str, lexicon: Lexicon) -> KnownName | None:
    """"Efe", "Nato", "Acnur": an organisation the lists know by its abbreviation in
    capitals, written as a word by some desks.  Only where the model itself reads an
    organisation, since "Un" and "Ice" in running text are words."""
    if mapped != "ORG" or not (3 <= len(text) <= 5) or not text.isalpha() or not text.istitle():
        return None
    known = lexicon.lookup(text.upper())
    return known if known is not None and known.label == "ORG" else None


# Lowercase nouns right after a name that make it a place: a port or crossing is named
# after a person ("DeConcini") or a company, and the analyst files it under places.
_PLACE_AFTER = re.compile(
    r"\s+(?:land\s+)?(?:port|ports)\s+of\s+entry\b|\s+(?:border\s+)?crossings?\b"
    r"|\s+checkpoints?\b"
)
_SINGULAR = {"ports": "port", "crossings": "crossing", "checkpoints": "checkpoint"}
# Lowercase nouns right before a name that say what kind of thing it names: an
# organisation, or a ship (which the labelling guide files with organisations).
_ORG_NOUNS = _folded({
    "organización", "ong", "oenegé", "plataforma", "sindicato", "patronal", "colectivo",
    "empresa", "compañía", "aseguradora", "constructora", "editorial", "diario",
    "periódico", "cadena", "aerolínea", "operadora", "eléctrica", "buque", "barco",
    "velero", "pesquero", "charity", "company", "firm", "newspaper", "broadcaster",
    "airline", "ship", "vessel", "carrier", "union", "nonprofit", "organisation",
    "organization", "asociación", "fundación", "federación", "entidad", "consultora",
    "agencia", "cooperativa", "association", "foundation", "agency", "group",
})  # fmt: skip
_NOUN_BEFORE = re.compile(r"(?<![^\W\d_])([^\W\d_]+)\s$")
# "la empresa gestora, Domus Vi": the noun, one adjective, a comma (an apposition).
_NOUN_ADJ_BEFORE = re.compile(
    r"(?<![^\W\d_])(?:el|la|los|las|the|its|su) ([^\W\d_]+)(?: [a-záéíóúñ]+)?,\s$",
    re.IGNORECASE,
)


def _named_by_org_noun(body: str, start: int) -> bool:
    m = _NOUN_BEFORE.search(body, max(0, start - 20), start)
    word = m.group(1) if m is not None else ""
    if (word.islower() or word == "ONG") and fold(word) in _ORG_NOUNS:
        return True
    m = _NOUN_ADJ_BEFORE.search(body, max(0, start - 40), start)
    return m is not None and m.group(1).islower() and fold(m.group(1)) in _ORG_NOUNS


# Titles that hold a portfolio: "la ministra de Economía", "el consejero de Empleo".
_PORTFOLIO_TITLES = _folded({
    "ministro", "ministra", "consejero", "consejera", "conseller", "consellera", "secretario",
    "secretaria", "viceconsejero", "viceconsejera", "viceministro", "viceministra",
    "subsecretario", "subsecretaria", "minister", "secretary", "titular", "responsable",
})  # fmt: skip
_PORTFOLIO_BEFORE = re.compile(
    r"(?<![^\W\d_])([^\W\d_]+)(?: ([a-záéíóúñ]+))? (?:de|del|de la|of|of the|for) $"
)


def _portfolio_of_title(
    body: str, start: int, text: str, *, gaz: Gazetteer, lexicon: Lexicon
) -> bool:
    """A span right after "ministra de", "(ex)consejero de", "Minister of" that is made of
    ordinary words (Economía, Empleo, Derechos Sociales) names the portfolio, not an
    organisation or a place: "ministro de Economía" is no entity, "presidente de
    Telefónica" and "ministra de Chile" are."""
    m = _PORTFOLIO_BEFORE.search(body, max(0, start - 40), start)
    if m is None:
        return False
    # "la ministra de", "el ministro británico de", "al exconsejero de"
    titles = {fold(w) for w in m.groups() if w}
    titles |= {t[2:] for t in titles if t.startswith("ex")}
    if not titles & _PORTFOLIO_TITLES or gaz.places(text) or lexicon.lookup(text):
        return False
    words = [w for w in text.split() if fold(w) not in _LINKING_WORDS]
    if not 1 <= len(words) <= 3:
        return False
    vocabulary = get_spanish_words()
    return all(vocabulary.is_common_word(w) for w in words) or all(
        w.lower() in _PORTFOLIOS_EN for w in words
    )


# English portfolios ("Minister of Justice"); Spanish ones are found as ordinary words.
_PORTFOLIOS_EN = frozenset({
    "justice", "interior", "economy", "finance", "health", "defence", "defense", "labour",
    "labor", "education", "energy", "agriculture", "transport", "immigration", "state",
    "foreign", "affairs", "home", "trade", "industry", "environment", "culture", "housing",
    "security", "homeland", "migration", "treasury", "employment", "development",
})  # fmt: skip
# "El ministro de Migración, Thanos Plevris,": a title, the clause it heads, a comma, and
# the name.  The clause starts a sentence or follows a comma.
_APPOSITION = re.compile(
    r"(?:^|[.;:!?]\s+|,\s+|\n)(?:(?:el|la|los|las|the|his|her|its|their|su|sus)\s+)?"
    r"([^\W\d_]+)(?:\s+[^,.;:!?\n]{0,60})?,\s*$",
    re.IGNORECASE,
)
_APPOSITION_TITLES = _PERSON_TITLES | _folded({
    "director", "directora", "líder", "fiscal", "delegado", "delegada", "comisionado",
    "comisionada", "cónsul", "consejero", "consejera", "portavoz", "entrenador",
    "entrenadora", "seleccionador", "seleccionadora", "zar", "abogado", "abogada",
    "capitán", "capitana", "vicepresidente", "vicepresidenta", "subsecretario",
    "subsecretaria", "coordinador", "coordinadora", "fundador", "fundadora", "autor",
    "autora", "spokesman", "spokeswoman", "spokesperson", "leader", "lawyer",
    "chief", "commissioner", "ambassador", "embajador", "embajadora", "founder",
})  # fmt: skip


def _apposition_of_title(body: str, start: int, text: str, lexicon: Lexicon) -> bool:
    """A name in apposition to a title ("El ministro de Migración, Thanos Plevris,";
    "The UN's refugee chief, Filippo Grandi,") is a person's: two to four capitalised
    words, no known organisation or place, right after a clause headed by a title."""
    words = text.split()
    if not 2 <= len(words) <= 4 or not all(w[0].isupper() or fold(w) in _LINKING_WORDS
                                           for w in words):
        return False
    if lexicon.lookup(text) is not None:
        return False
    m = _APPOSITION.search(body, max(0, start - 90), start)
    if m is None:
        return False
    head = fold(m.group(1))
    head = head[2:] if head.startswith("ex") and head[2:] in _APPOSITION_TITLES else head
    return head in _APPOSITION_TITLES


# Nouns for places that a name after "de"/"of" is the name of: "la cárcel de Tecoluca",
# "el puerto de Zuwara", "the town of Armidale".
_PLACE_NOUNS = _folded({
    "ciudad", "localidad", "municipio", "pueblo", "aldea", "villa", "provincia", "región",
    "comarca", "isla", "puerto", "playa", "campo", "campamento", "cárcel", "prisión",
    "barrio", "distrito", "valle", "río", "frontera", "paso", "aeropuerto", "bahía",
    "condado", "costa", "desierto", "estrecho", "localidades", "ciudades", "pueblos",
    "estación", "comuna", "parroquia", "pedanía", "corregimiento", "cantón", "caserío",
    "centro", "centros", "asentamiento", "finca",
    "town", "city", "village", "port", "province", "region", "district", "island",
    "county", "camp", "prison", "valley", "river", "airport", "suburb", "municipality",
    "station",
})  # fmt: skip
# "la cárcel de", "el puerto libio de", "la localidad fronteriza de": a place noun, maybe
# one adjective, and "de".
_NOUN_OF_BEFORE = (
    re.compile(r"(?<![^\W\d_])([^\W\d_]+) (?:de|del|of)\s$"),
    re.compile(r"(?<![^\W\d_])([^\W\d_]+) [^\W\d_]+ (?:de|del|of)\s$"),
)


def _after_place_noun(body: str, start: int) -> bool:
    for pattern in _NOUN_OF_BEFORE:
        m = pattern.search(body, max(0, start - 40), start)
        if m is not None and m.group(1).islower() and fold(m.group(1)) in _PLACE_NOUNS:
            return True
    return False


# Words that say a name after them is where someone or something comes from: "la patera
# había salido de Nuakchot", "procedentes de Agadez", "un vecino de La Línea".
_ORIGIN_BEFORE = re.compile(
    r"(?<![^\W\d_])(?:salid[oa]s?|salió|salieron|partió|partieron|procedentes?|llegad[oa]s?"
    r"|natural|naturales|vecin[oa]s?|originari[oa]s?|oriund[oa]s?) de\s$"
    r"|(?<![^\W\d_])nacid[oa]s? en\s$"
    # and where they go: "fueron llevados a Zuwara", "rumbo a Lampedusa"
    r"|(?<![^\W\d_])(?:llevad|trasladad|devuelt|deportad|expulsad|enviad|desviad|"
    r"desembarcad|evacuad|repatriad|conducid)[oa]s? (?:hasta |hacia )?a\s$"
    r"|(?<![^\W\d_])(?:rumbo|destino) a\s$",
    re.IGNORECASE,
)
# "Fuentes de", "Jueces de la", "Presidente de": an ordinary word that opens a sentence
# and says whose people or parts follow.
_GROUP_OF = re.compile(r"([^\W\d_]+) (?:de|del|de la|de los|de las) (?=[A-ZÁÉÍÓÚÑ])")


def _strip_group_of(
    body: str, start: int, end: int, *, gaz: Gazetteer, lexicon: Lexicon
) -> tuple[int, int, str | None]:
    """"Fuentes de Salvamento Marítimo", "Jueces de San Roque", "Presidente de Coexphal":
    Spanish capitalises the first word of a sentence, and the model reads an ordinary
    noun, role or participle there, its "de" and the name that follows as one name.  The
    name is what follows; it is the place the gazetteer knows, the place a participle of
    movement comes from ("Salidos de Roncesvalles"), a person when it looks like a full
    name, and otherwise the organisation the people belong to.  The label is returned."""
    m = _GROUP_OF.match(body, start, end)
    if m is None or not _sentence_start(body, start):
        return start, end, None
    whole, word = body[start:end], m.group(1)
    key = fold(word)
    if (gaz.places(whole) or lexicon.lookup(whole) is not None or key in lexicon.given_names
            or key in _ORG_FIRST or key in _NOT_PERSON_HEADS or key in _PLACE_NOUNS
            or key in _SAINTS or not word[0].isupper()):  # fmt: skip
        return start, end, None  # "Banco de España", "Santiago de Compostela", "San Juan de Dios"
    vocabulary = get_spanish_words()
    if not vocabulary.is_common_word(word) and key not in _APPOSITION_TITLES:
        return start, end, None  # "Torres de Alba" may be someone's name
    rest = body[m.end() : end]
    if gaz.places(rest) and lexicon.lookup(rest) is None:
        label = "GPE"
    elif vocabulary.is_verb_form(word) and not vocabulary.lemmas_of(word, "noun"):
        label = "GPE"  # "Salidos de Roncesvalles", "Llegados de Kayes"
    elif _looks_like_a_person(rest, gaz, lexicon):
        label = "PERSON"  # "Familiares de Ana Ruiz"
    else:
        label = "ORG"
    return m.end(), end, label


def _given_name_before(body: str, start: int, end: int, lexicon: Lexicon) -> int:
    """"Marina Lacalle" at a sentence start: the model leaves out a first word that is
    also an ordinary word ("Marina", "Rosa", "Victoria").  A known given name right before
    a one-word person, at a sentence start, belongs to the name."""
    if " " in body[start:end].strip():
        return start
    m = re.search(r"(?<![^\W\d_])([A-ZÁÉÍÓÚÑ][^\W\d_]+) $", body[max(0, start - 20) : start])
    if m is None:
        return start
    word_start = start - len(m.group(0))
    if fold(m.group(1)) in lexicon.given_names and _sentence_start(body, word_start):
        return word_start
    return start


_CLUB_ARTICLE = re.compile(r"(?<![^\W\d_])(?:el|del|al|El)\s$")


def _club_article(body: str, start: int, text: str, gaz: Gazetteer) -> bool:
    """"el Sevilla", "del Barcelona", "al Valencia": Spanish gives a city no article, so a
    city after a masculine article is the club or company named after it.  Not where the
    article belongs to the place's own name ("del Cairo" is El Cairo)."""
    if _CLUB_ARTICLE.search(body, max(0, start - 5), start) is None:
        return False
    candidates = gaz.places(text)
    if not candidates or any(c.kind in _AREAS or c.kind == "continent" for c in candidates):
        return False
    return not gaz.places(f"El {text}")


def _strip_lowercase(
    body: str, start: int, end: int, *, language: str, gaz: Gazetteer
) -> tuple[int, int, bool]:
    """Drop leading lowercase words and numbers: the Spanish model often takes in what
    comes before a name ("El presidente Lula da Silva", "había 12 marroquíes").  A title
    among the dropped words ("presidente", "rey") is evidence of a person."""
    words = list(re.finditer(r"\S+", body[start:end]))
    if len(words) < 2:
        return start, end, False
    # Trailing lowercase words are the sentence, not the name ("Italia registró",
    # "Harmondsworth immigration"), unless the whole is a known name.
    last = len(words)
    while last > 1 and words[last - 1].group()[0].islower():
        if last == len(words) and fold(words[-1].group().strip(".,")) in _ORG_LAST:
            break  # "Coast guard", "Border police": the head of an organisation's name
        last -= 1
    if last < len(words) and any(w.group()[0].isupper() for w in words[:last]):
        whole = body[start:end]
        if not gaz.is_label_place(whole) and get_lexicon().lookup(whole) is None:
            while last > 1 and fold(words[last - 1].group()) in _LINKING_WORDS:
                last -= 1
            end = start + words[last - 1].end()
            words = words[:last]
    if len(words) < 2 or words[0].group()[0].isupper():
        return start, end, False
    first = next((i for i, w in enumerate(words) if w.group()[0].isupper()), None)
    if first is None:
        final = words[-1]
        if gaz.demonym(final.group(), language=language) is None:
            return start, end, False
        return start + final.start(), end, False
    last_dropped = fold(words[first - 1].group().strip(".,"))
    if last_dropped in _LINKING_WORDS:
        return start, end, False  # "ministro del Interior": a fragment, dropped later
    return start + words[first].start(), end, last_dropped in _PERSON_TITLES


def _strip_titles(body: str, start: int, end: int, titled: bool) -> tuple[int, bool]:
    """"Interior Minister Gerald Darmanin", "First Lady Melania Trump": the name is what
    follows the last title among the first three words, and the title is evidence that
    it is a person's."""
    words = list(re.finditer(r"\S+", body[start:end]))
    cut = None
    opener = fold(words[0].group()) if words else ""
    given = opener in get_lexicon().given_names and opener not in _PERSON_TITLES
    for i, word in enumerate(words[:3]):
        if i > 0 and given:
            break  # "Martin Luther King Jr.": a name that starts with a given name is whole
        if i + 1 < len(words) and fold(word.group().rstrip(".")) in _PERSON_TITLES:
            following = words[i + 1].group()
            if following[0].isupper() and fold(following) not in _LINKING_WORDS:
                cut = i + 1
    if cut is None:
        return start, titled
    return start + words[cut].start(), True


_POSSESSIVE_INSIDE = re.compile(r"['’]s ")
_LINE_BREAKS = re.compile(r"[ \t]*\n[ \t]*\n\s*")


_CREDIT = re.compile(r"\s*(?:Photo|Foto|Images?|Imágenes)?\s*/\s*(?=[A-Z\u00C0-\u00DE])")


def _split_credits(text: str, spans: Sequence[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """"AP Photo/Patrick Semansky", "Reuters/Juan Pérez": a photo credit is an agency and
    a photographer, two names the model reads as one."""
    out: list[tuple[int, int, str]] = []
    for start, end, label in spans:
        m = _CREDIT.search(text, start, end)
        if m is None or m.start() == start:
            out.append((start, end, label))
            continue
        out.append((start, m.start(), "ORG"))
        out.append((m.end(), end, "PERSON"))
    return out


def _split_lines(text: str, spans: Sequence[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """A name never runs over a paragraph break: the model reads a headline and the first
    words of the body as one ("México\n\nEl Instituto…"); each part is a span of its own.
    (A single line break may fall inside a name in wrapped text.)"""
    out: list[tuple[int, int, str]] = []
    for start, end, label in spans:
        if "\n\n" not in text[start:end]:
            out.append((start, end, label))
            continue
        for m in _LINE_BREAKS.finditer(text, start, end):
            if m.start() > start:
                out.append((start, m.start(), label))
            start = m.end()
        if start < end:
            out.append((start, end, label))
    return out


def _split_possessives(
    text: str, spans: Sequence[tuple[int, int, str]], gaz: Gazetteer, lexicon: Lexicon
) -> list[tuple[int, int, str]]:
    """"UN’s International Labour Organization" is two names when the part before the
    possessive is a known organisation or country."""
    out: list[tuple[int, int, str]] = []
    for start, end, label in spans:
        m = _POSSESSIVE_INSIDE.search(text, start, end)
        if m is not None:
            head_start = start + 4 if text[start : start + 4] in ("the ", "The ") else start
            head = text[head_start : m.start()]
            known = lexicon.lookup(head)
            if known is not None or gaz.country_of(head) is not None:
                out.append((head_start, m.start(), known.label if known else "GPE"))
                out.append((m.end(), end, label))
                continue
        out.append((start, end, label))
    return out


_HEAD_JOIN = re.compile(r" (?:de|del|de la|de los|of|of the|for) ")


def _join_org_heads(
    text: str, spans: Sequence[tuple[int, int, str]], gaz: Gazetteer, lexicon: Lexicon
) -> list[tuple[int, int, str]]:
    """One organisation the model cut after its head word: "Secretaría" + "de" + "Estado
    de Migraciones", "Ministry" + "of" + "Foreign Affairs" are one ORG; so is an
    organisation the model cut before its last word, a subject that is no place or known
    name ("Real Federación Española" + "de" + "Fútbol")."""
    out: list[tuple[int, int, str]] = []
    for span in sorted(spans):
        if out:
            start, end, label = out[-1]
            head = text[start:end].split()
            gap = _HEAD_JOIN.fullmatch(text, end, span[0])
            if gap and head and text[span[0]].isupper() and (
                fold(head[-1]) in _ORG_FIRST
                or (label == "ORG" and _ORG_FIRST.intersection(map(fold, head))
                    and _a_subject(text[span[0] : span[1]], gaz, lexicon))
            ):  # fmt: skip
                out[-1] = (start, span[1], "ORG")
                continue
        out.append(span)
    return out


def _a_subject(text: str, gaz: Gazetteer, lexicon: Lexicon) -> bool:
    """One capitalised word that names no place and nothing known: "Fútbol", "Baloncesto"
    after "Federación de" is what the organisation is about, not a second name."""
    return " " not in text and text.isalpha() and not gaz.places(text) and (
        lexicon.lookup(text) is None and fold(text) not in lexicon.given_names
    )


def _strip_openers(
    body: str, start: int, end: int, *, gaz: Gazetteer, lexicon: Lexicon
) -> tuple[int, int]:
    """Drop leading Spanish function words and openers ("Según", "El", "Tras") unless the
    whole span is a known name ("La Paz", "El Salvador", "Los Ángeles") or the word is
    capitalised inside a sentence, where only a name's own words are."""
    while start < end:
        text = body[start:end]
        if gaz.is_label_place(text) or lexicon.lookup(text) is not None:
            break
        first, _, rest = text.partition(" ")
        if first[:1].isupper() and not _sentence_start(body, start):
            break  # capitalised inside a sentence: part of the name ("en La Jonquera")
        if rest and _word_before_a_person(first, rest, gaz=gaz, lexicon=lexicon):
            pass  # "Vuelve Alexia Putellas": a verb or noun that opens the sentence
        elif not rest or fold(first) not in lexicon.openers_es:
            if not rest and fold(first) in lexicon.openers_es:
                return start, start  # only a function word: nothing left
            break
        start += len(first) + 1
        while start < end and body[start] == " ":
            start += 1
    return start, end


def _word_before_a_person(first: str, rest: str, *, gaz: Gazetteer, lexicon: Lexicon) -> bool:
    """At a sentence start, an ordinary Spanish word ("Vuelve", "Felicita") before a known
    given name and a capitalised word is not part of the name that follows."""
    following = rest.split()
    if len(following) < 2 or not following[1][:1].isupper():
        return False
    key = fold(first)
    if key in lexicon.given_names or key in _PERSON_TITLES or key in _ORG_FIRST:
        return False
    if fold(following[0]) not in lexicon.given_names or gaz.places(first):
        return False
    return first.isalpha() and get_spanish_words().is_common_word(first)


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


def _trim(
    body: str, start: int, end: int, *, language: str, gaz: Gazetteer, lexicon: Lexicon
) -> tuple[int, int]:
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
            keep = gaz.display_name(text) is not None or (
                article != "the " and lexicon.lookup(text) is not None
            )
            if lower.startswith(article) and len(text) > len(article) and not keep:
                if article != "the " and text[0].isupper() and not _sentence_start(body, start):
                    break  # inside a sentence, "La" is part of the name (visitó La Moneda)
                start += len(article)
                break
        if body[start:end].endswith(".") and not _keep_period(body[start:end], gaz):
            end -= 1
        if (start, end) == before:
            return start, end


def _sentence_start(body: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and body[i] in " \"'“‘«(—–-":
        i -= 1
    return i < 0 or body[i] in ".!?:\n"


def _keep_period(text: str, gaz: Gazetteer) -> bool:
    words = text[:-1].split()
    if not words:
        return False
    if gaz.places(text) and not gaz.places(text[:-1]):
        return True  # "Calif.", "N.M."
    last = words[-1]
    return "." in last or last.lower() in _ABBREVIATIONS or len(last) == 1


def _missed_demonyms(
    body: str, found: list[_Span], *, language: str, gaz: Gazetteer, lexicon: Lexicon
) -> list[_Span]:
    """Plural demonyms no span covers: "los venezolanos" is a group of people to the
    analyst even though Spanish writes it lowercase and the model rarely tags it."""
    # English writes every nationality word capitalised ("Latino voters"), so every form
    # is looked up there; Spanish only the plural nouns ("los venezolanos").
    plurals = gaz.plural_demonyms(language=language) if language == "es" else gaz.demonyms("en")
    taken = sorted((s.start, s.end) for s in found)
    starts = [s for s, _ in taken]
    extra = []
    # English writes nationalities capitalised, so only capitalised words are looked up.
    for m in (_WORD if language == "es" else _CAPITALISED).finditer(body):
        word = m.group()
        demonym = plurals.get(word.lower() if word.isascii() else fold(word))
        if demonym is None or body[m.start() - 1 : m.start()] == "-":
            continue  # "anti-Asian", "pro-European": an attitude, not the people
        if language == "es" and not _names_people_es(body, m.start(), demonym, lexicon):
            continue
        i = bisect_right(starts, m.start())  # the span starting at or before the word
        if (i and taken[i - 1][1] > m.start()) or (i < len(taken) and starts[i] < m.end()):
            continue
        extra.append(_Span(m.start(), m.end(), word, "NORP", demonym.key))
    return extra


def _missed_surnames(
    text: str, found: list[_Span], gaz: Gazetteer, lexicon: Lexicon, *, language: str = "en"
) -> list[_Span]:
    """Surnames of the people the article names in full, where the model missed them
    ("Ayuso critica…" in a headline over "Isabel Díaz Ayuso"): a later or earlier mention
    as a surname is a mention of that person.  Only surnames one full name ends with, and
    that are no country, region or common word.  In Spanish a surname the model found alone
    inside a sentence ("…que Ayuso gobierna") is one too: its headline mention is found."""
    owners: dict[str, set[str]] = {}
    alone: set[str] = set()  # "López" named alone inside a sentence: a surname in use
    for span in found:
        words = span.text.split()
        if span.label == "PERSON" and len(words) >= 2 and fold(words[0]) in lexicon.given_names:
            owners.setdefault(words[-1], set()).add(fold(span.text))
        elif (language == "es" and span.label == "PERSON" and len(words) == 1
              and not _sentence_start(text, span.start)):  # fmt: skip
            alone.add(span.text)
    for surname in alone - set(owners):
        if fold(surname) not in lexicon.given_names:
            owners[surname] = {fold(surname)}
    extra: list[_Span] = []
    taken = [(s.start, s.end) for s in found]
    for surname, names in owners.items():
        if len(names) > 1 or not surname.isalpha() or not surname[0].isupper():
            continue
        if gaz.is_common_word(surname) or lexicon.lookup(surname):
            continue
        if any(c.kind in _AREAS or c.kind == "continent" for c in gaz.places(surname)):
            continue  # "Jorge Chile" aside, a country or region said alone is the place
        if re.search(rf"(?<![\w-]){re.escape(surname.lower())}(?![\w-])", text):
            continue  # "Literature": a word the article also writes small
        for m in re.finditer(rf"(?<![\w-]){re.escape(surname)}(?![\w-])", text):
            if _word_before(text, m.start()) in _PLACE_BEFORE:
                continue  # "en Alcaraz": the town, not Carlos Alcaraz
            if not any(s < m.end() and m.start() < e for s, e in taken):
                extra.append(_Span(m.start(), m.end(), surname, "PERSON"))
    return extra


_WORD_BEFORE_DEMONYM = re.compile(r"([^\W_]+)([^\w]*)$")


def _names_people_es(body: str, start: int, demonym: Demonym, lexicon: Lexicon) -> bool:
    """Whether a lowercase Spanish demonym at ``start`` names people (see the labelling
    guide): a plural used as a noun ("los venezolanos", "expulsa a cubanos", "12
    marroquíes") or after a noun for people ("migrantes venezolanos", "familias sirias");
    not after another plural noun ("los países europeos"), and never a singular, which is
    an adjective ("el ministro griego", "la costa libia")."""
    if not demonym.plural:
        return False
    m = _WORD_BEFORE_DEMONYM.search(body, max(0, start - 40), start)
    if m is None or any(c in m.group(2) for c in ",;:()—–\n"):
        return True  # the start of a text, a list or an apposition: a noun
    word = fold(m.group(1))
    if word in lexicon.openers_es or word in lexicon.people_nouns_es:
        return True
    # An adjective agrees with its noun, so after a plural ("países", "autoridades") the
    # demonym describes it; after a verb ("expulsa", "cruzaron"), a number or a name it
    # is the people themselves.
    return not (word.endswith("s") and word.isalpha() and m.group(1)[0].islower())


# -- group ---------------------------------------------------------------------------


def _group(spans: list[_Span], gaz: Gazetteer) -> list[_Group]:
    groups: dict[str, _Group] = {}
    for span in sorted(spans, key=lambda s: s.start):
        groups.setdefault(_key(span, gaz), _Group(_key(span, gaz))).spans.append(span)
    _fold_surnames(groups, gaz, get_lexicon().given_names)
    return list(groups.values())


def _key(span: _Span, gaz: Gazetteer) -> str:
    """Spans with one key are one entity: one name, or names of one referent."""
    if span.demonym_key:
        return f"norp:{span.demonym_key}"
    if span.known is not None:
        if span.known.label == "NORP":
            return f"group:{span.known.canonical}"
        return fold(span.known.canonical)
    if not span.titled:
        country = gaz.country_of(span.text)
        if country is not None:
            return fold(country)
    return fold(span.text)


def _fold_surnames(
    groups: dict[str, _Group], gaz: Gazetteer, given_names: frozenset[str]
) -> None:
    """Merge "Delgado" into "Rodrigo Delgado" when exactly one full name ends that way,
    a first name said alone ("Joe") into the one full name it begins, and "Coast Guard" or
    "Times" into the one longer organisation it ends ("Italian Coast Guard", "The New
    York Times")."""
    # Full names by each of their proper token suffixes ("delgado", "rodrigo delgado" for
    # "juan rodrigo delgado"): one lookup per group instead of a scan of every full name,
    # which made an article listing thousands of people take minutes.
    by_suffix: dict[tuple[str, ...], list[_Group]] = {}
    by_first: dict[str, list[_Group]] = {}
    org_suffixes: dict[str, list[_Group]] = {}
    for g in groups.values():
        if " " in g.key and _majority(g) == "ORG":
            tokens = g.key.split()
            for n in range(1, len(tokens)):  # "Times" after "The New York Times" too
                org_suffixes.setdefault(" ".join(tokens[-n:]), []).append(g)
        if " " in g.key and _majority(g) == "PERSON":
            tokens = g.key.split()
            for n in range(1, len(tokens)):
                by_suffix.setdefault(tuple(tokens[-n:]), []).append(g)
            by_first.setdefault(tokens[0], []).append(g)
    for key in list(groups):
        group = groups[key]
        if group.key.startswith(("norp:", "group:")) or group.spans[0].known is not None:
            continue
        votes = {s.label for s in group.spans}
        if votes == {"ORG"} and len(org_suffixes.get(key, [])) == 1:
            owner = org_suffixes[key][0]  # "Coast Guard" after "Italian Coast Guard"
            owner.spans = sorted([*owner.spans, *group.spans], key=lambda s: s.start)
            del groups[key]
            continue
        if (_majority(group) in _PLACE_LABELS or (
            "PERSON" not in votes and gaz.is_label_place(group.spans[0].text)
        )) and not _surname_not_place(group, gaz):
            continue  # "Costa" the place is not Jorge Costa; "Allamand" the "ORG" is
        owners = by_suffix.get(tuple(key.split()), [])
        if not owners and " " not in key and key in given_names and "PERSON" in votes:
            owners = by_first.get(key, [])  # "Joe" after "Joe Biden": him, if only one Joe
        if len(owners) == 1:
            owners[0].person = True
            owners[0].spans.extend(group.spans)
            owners[0].spans.sort(key=lambda s: s.start)
            del groups[key]


def _surname_not_place(group: _Group, gaz: Gazetteer) -> bool:
    """A one-word "place" that is also the surname of a person the article names in full
    is that person unless a preposition places it ("Alcaraz dedicó la victoria" after
    "Carlos Alcaraz"; not "en Alcaraz"), and unless it names a country or region."""
    if " " in group.key or any(s.located or s.titled for s in group.spans):
        return False
    return not any(c.kind in _AREAS or c.kind == "continent"
                   for c in gaz.places(group.spans[0].text))  # fmt: skip


def _majority(group: _Group) -> str:
    votes = Counter(s.label for s in group.spans)
    best = max(votes.values())
    return next(s.label for s in group.spans if votes[s.label] == best)


# -- annotate ------------------------------------------------------------------------


def _annotate(
    group: _Group,
    gaz: Gazetteer,
    lexicon: Lexicon,
    *,
    language: str,
    body_start: int,
    first_names: set[str],
    article: str = "",
) -> Entity | None:
    text = _canonical_text(group, gaz, language=language)
    if all(s.credit for s in group.spans):
        return _entity(group, text, "ORG", body_start)  # an agency, as its credit says
    label = _label(group, text, gaz, lexicon, language=language, first_names=first_names)
    if label == "PERSON" and _a_word_not_a_name(group, text, article, first_names):
        return None  # "Refugees", "Naufragio": a capitalised word the text also writes small
    if language == "en" and label == "PERSON" and _a_phrase_not_a_name(group, text, lexicon):
        return None  # "Legal Challenges", "Victim Targeted": a headline in Title Case
    if language == "es" and _an_opener_not_a_name(group, text, article, gaz, lexicon, label):
        return None  # "Polémica en el Congreso", "Acusó a…": a word that starts a sentence
    if language == "es" and label == "PERSON" and _a_participle_not_a_name(group, text):
        return None  # "Refugiados", "Desplazados": people by what happened to them
    if language == "es" and label == "PERSON" and _headline_word_only(
        group, text, article, body_start
    ):
        return None  # "Netflix rodará…" over a body that never names it again
    if label in ("GPE", "LOC") and not any(s.known for s in group.spans):
        # "EE.UU.", "Londres": one value per place; "New York" and "NYC" are the city
        canonical = gaz.canonical_place(text)
        text = (_city_or_state(group, text, article)
                or _city_or_state(group, canonical, article) or canonical)  # fmt: skip
    facility = next((s.facility for s in group.spans if s.facility), None)
    if label in _PLACE_LABELS and facility is not None:
        # "DeConcini" alone names a senator; the place is "DeConcini Port of Entry"
        nouns = " ".join(w if w == "of" else _SINGULAR.get(w, w).capitalize()
                         for w in facility.lower().split())  # fmt: skip
        text = f"{text} {nouns}"
    if label == "NORP" and not group.key.startswith(("norp:", "group:")):
        people = gaz.people_word(text, language=language)
        text = people.canonical if people is not None else text  # "Chechen" → "Chechens"
    return _entity(group, text, label, body_start)


def _entity(group: _Group, text: str, label: str, body_start: int) -> Entity:
    mentions = [
        Mention(start=s.start, end=s.end, field="title", credit=s.credit)
        if s.start < body_start
        else Mention(start=s.start - body_start, end=s.end - body_start, credit=s.credit)
        for s in group.spans
    ]
    return Entity(text=text, label=label, count=len(group.spans), mentions=mentions)


# A city that shares its name with its state (``CITY_AND_STATE``): "Washington" and "New
# York" alone are the city in the news (the capital and its government, the city of eight
# million, the dateline); the state is said so ("Washington state", "the state of New
# York", "upstate New York", "Wash." and "N.Y." in a dateline).  One value each, not one
# for both, and not "NYC" apart (geonames files it under Manhattan).
_CITY_OR_STATE_NAMES = {
    "washington": "Washington", "d.c.": "Washington", "wash.": "Washington",
    "washington, d.c.": "Washington", "washington d.c.": "Washington",
    "washington, dc": "Washington", "washington dc": "Washington",
    "new york": "New York", "nueva york": "New York", "n.y.": "New York",
    "nyc": "New York", "n.y.c.": "New York", "washington state": "Washington",
    "new york state": "New York", "upstate new york": "New York",
}  # fmt: skip
_STATE_AFTER = re.compile(r"\s+[Ss]tate\b")
_STATE_BEFORE = re.compile(r"\b(?:(?:state|estado) (?:of|de)|upstate) $", re.IGNORECASE)
_STATE_WRITTEN = frozenset(
    {"wash.", "washington state", "n.y.", "new york state", "upstate new york"}
)


def _city_or_state(group: _Group, text: str, article: str) -> str | None:
    """The city's or the state's one value, or None for other names.  Once an article
    says the state, its bare mentions are the state too ("Farms in Washington state…;
    Washington had a dry year")."""
    state = _CITY_OR_STATE_NAMES.get(fold(text))
    if state is None:
        return None
    city_name, state_name = CITY_AND_STATE[state]
    for s in group.spans:
        if fold(article[s.start : s.end]) in _STATE_WRITTEN or _STATE_AFTER.match(
            article, s.end
        ) or _STATE_BEFORE.search(article, max(0, s.start - 12), s.start):
            return state_name
    return city_name


def _a_word_not_a_name(group: _Group, text: str, article: str, first_names: set[str]) -> bool:
    """A one-word "person" with no evidence of being one (no title, no full name it is
    the surname of, no lexicon entry) that the article also writes in lowercase is a
    word at the start of a sentence or a headline, not someone's name."""
    if " " in text or group.has_person_evidence:
        return False
    if group.key in first_names or not text.isalpha() or not text[0].isupper():
        return False
    return _written_lowercase(article, text)


def _a_phrase_not_a_name(group: _Group, text: str, lexicon: Lexicon) -> bool:
    """Two to four capitalised English words with no evidence of a person (no title, no
    known name, no given name first) made only of ordinary words, at least one of them an
    adjective or a verb ("Legal Challenges", "Quick Fix", "Replay More Videos"): a
    headline or a label in Title Case, not a name.  Surnames that are nouns ("Miller",
    "Graham") need a given name before them, which exempts them."""
    words = text.split()
    if not 2 <= len(words) <= 4 or group.has_person_evidence:
        return False
    if fold(words[0]) in lexicon.given_names or not all(w.isalpha() for w in words):
        return False
    vocabulary = get_english_words()
    return all(vocabulary.is_common_word(w) for w in words) and any(
        is_plain_word(vocabulary, w) for w in words
    )


def _headline_word_only(group: _Group, text: str, article: str, body_start: int) -> bool:
    """A one-word Spanish "person" met only in the headline and never in the body, with no
    evidence of a person (no title, no full name in the body it is the surname of, not a
    person the lexicon knows).  A headline's person is named again in the body ("Sheinbaum
    rechaza…" over "la presidenta Claudia Sheinbaum"); a brand, a publisher or a village
    the model took for a surname often is not."""
    if " " in text or group.has_person_evidence:
        return False
    if body_start == 0 or any(s.start >= body_start for s in group.spans):
        return False
    return re.search(_word_pattern(text), article[body_start:], re.IGNORECASE) is None


_PLURAL_PARTICIPLE = re.compile(r"[^\W\d_]{3,}(?:ados|adas|idos|idas)")


def _a_participle_not_a_name(group: _Group, text: str) -> bool:
    """A one-word Spanish "person" that is a plural participle used as a noun
    ("Refugiados", "Detenidos", "Afectadas") names people by what befell them; no
    surname is made so.  Only without evidence of a person."""
    if " " in text or group.has_person_evidence:
        return False
    return _PLURAL_PARTICIPLE.fullmatch(text) is not None and get_spanish_words().is_common_word(
        text
    )


def _an_opener_not_a_name(
    group: _Group, text: str, article: str, gaz: Gazetteer, lexicon: Lexicon, label: str
) -> bool:
    """A one-word Spanish "name" met only where Spanish capitalises every word, at the
    start of a headline or sentence, that is a form of a common noun, adjective or verb
    ("Polémica", "Tensión", "Voluntarios", "Acusó") and has no evidence of a name: no
    title, no full name it belongs to, no known place or name, not a given name for a
    person, and never written capitalised inside a sentence."""
    if " " in text or group.has_person_evidence:
        return False
    if not text.isalpha() or not all(_sentence_start(article, s.start) for s in group.spans):
        return False
    if lexicon.lookup(text) is not None or any(
        c.kind in _AREAS or c.kind == "continent" for c in gaz.places(text)
    ) or gaz.is_label_place(text):
        return False  # "Fiscal", a village in Aragon, is not what a headline means by it
    if label == "PERSON" and fold(text) in lexicon.given_names:
        return False
    if not get_spanish_words().is_common_word(text):
        return False
    inside = re.finditer(_word_pattern(text), article)
    return all(_sentence_start(article, m.start()) for m in inside)


def _label(
    group: _Group,
    text: str,
    gaz: Gazetteer,
    lexicon: Lexicon,
    *,
    language: str,
    first_names: set[str] = frozenset(),  # type: ignore[assignment]
) -> str:
    if group.key.startswith("norp:"):
        return "NORP"
    known = next((s.known for s in group.spans if s.known is not None), None)
    if known is not None:
        return known.label
    if group.person:
        return "PERSON"
    label = _majority(group)
    titled = any(s.titled for s in group.spans) or group.key in first_names
    if not titled and any(s.named_place for s in group.spans):
        return "FAC"
    if not titled and 2 * sum(s.club for s in group.spans) > len(group.spans):
        return "ORG"  # "el Sevilla", "del Barcelona": the club
    if label == "PERSON":
        if not titled and gaz.country_of(text) is not None:
            return "GPE"  # a country is no one's name without a title before it
        located = any(s.located for s in group.spans)
        if not titled and _is_place_not_name(text, gaz, lexicon, located=located):
            return "GPE"
        if not titled and located and any(c.kind in _AREAS for c in gaz.places(text)):
            return "GPE"  # "in Kent": a region, though people are named so too
        if not titled and _looks_like_an_org(text, gaz) and not (
            language == "es" and _given_and_surnames_es(text, lexicon)
        ):
            return "ORG"
        if not titled and " " in text and fold(text.split()[0]) in _SAINTS:
            return "GPE"  # "San Roque", "Santa Pola": a town or a church, no one's name
        if language == "es" and not titled and _words_not_a_name_es(text, gaz, lexicon):
            return "ORG"  # "Protección Civil", "Gran Sala": an institution's name
        if not titled and all(s.located for s in group.spans) and (
            fold(text.split()[0]) not in lexicon.given_names
        ):
            return "GPE"  # "en Gjadër", "la cárcel de Tecoluca": a place no list knows
        return label
    if titled or (label != "ORG" and _looks_like_a_person(text, gaz, lexicon)):
        return "PERSON"
    if label != "ORG" and _looks_like_an_org(text, gaz):
        return "ORG"
    if label == "ORG" and any(s.located for s in group.spans) and gaz.is_label_place(text):
        return "GPE"  # "in Tarifa", "of Armidale": the model took a town for a company
    candidates = gaz.places(text)
    if not candidates:
        return label
    best = candidates[0]
    if gaz.is_label_place(text) and any(c.kind in _AREAS for c in candidates):
        return "GPE"
    if best.kind == "continent":
        return "LOC"
    if label in _CITY_FIXES and gaz.is_label_place(text):
        return "GPE"
    if label == "LOC" and language == "es" and best.kind == "city":
        return "GPE"  # WikiNER's LOC covers towns too small for the label list
    return label


def _given_and_surnames_es(text: str, lexicon: Lexicon) -> bool:
    """A given name that also begins organisations ("Marina Real", "Marina Militar")
    followed only by words that are no ordinary Spanish words ("Marina Lacalle") is a
    person's name."""
    words = text.split()
    if len(words) < 2 or fold(words[0]) not in lexicon.given_names:
        return False
    vocabulary = get_spanish_words()
    return not any(vocabulary.is_common_word(w) for w in words[1:] if fold(w) not in _LINKING_WORDS)


_SAINTS = _folded({"san", "santa", "santo", "sant", "são", "sao"})


def _words_not_a_name_es(text: str, gaz: Gazetteer, lexicon: Lexicon) -> bool:
    """Two or more capitalised words, each a common Spanish noun or adjective, none a given
    name or a place ("Protección Civil", "Seguridad Social", "Gran Sala"): Spanish names
    of institutions are made so, and people's names are not."""
    words = [w for w in text.split() if fold(w) not in _LINKING_WORDS]
    if len(words) < 2 or not all(w[:1].isupper() and w.isalpha() for w in words):
        return False
    if gaz.places(text) or any(fold(w) in lexicon.given_names for w in words):
        return False
    vocabulary = get_spanish_words()
    return all(vocabulary.is_common_word(w) and not gaz.is_label_place(w) for w in words)


def _exonym_of_a_city(text: str, gaz: Gazetteer, lexicon: Lexicon) -> bool:
    if fold(text) in lexicon.given_names or gaz.is_common_word(text) or not text.isalpha():
        return False
    candidates = gaz.places(text)
    return bool(candidates) and all(not c.primary and c.kind == "city" for c in candidates)


def _is_place_not_name(text: str, gaz: Gazetteer, lexicon: Lexicon, *, located: bool) -> bool:
    """A "person" that is a country or region, a large city of several words ("Gran
    Canaria", "Beni Enzar"), one of one word that is no first name ("Tarapacá"; not
    "Florence", "Victoria"), or any large city after "in" or "desde" ("in Lyon").  Also
    one word that is another language's name of a city of 100,000 or more ("Fráncfort",
    "Nápoles"), no first name and no common word: no one is named after a city's exonym."""
    if not gaz.is_label_place(text):
        return " " not in text and _exonym_of_a_city(text, gaz, lexicon)
    if located or any(c.kind in _AREAS for c in gaz.places(text)) or " " in text:
        return True  # "Beni Enzar", "Santa Fe": a town of several words is that town
    return fold(text.split()[0]) not in lexicon.given_names


def _looks_like_an_org(text: str, gaz: Gazetteer) -> bool:
    """Several capitalised words that begin or end with a word like "Ministerio",
    "Tribunal" or "Council" and are not a known place."""
    words = text.split()
    if len(words) < 2 or gaz.is_label_place(text):
        return False
    return fold(words[0]) in _ORG_FIRST or fold(words[-1].strip(".")) in _ORG_LAST


def _looks_like_a_person(text: str, gaz: Gazetteer, lexicon: Lexicon) -> bool:
    """Two to four capitalised words starting with a known first name, that name no known
    place or thing and end in no word like "University" or "Province": "Carolina
    Valdivia" is a person even when the model calls her a place."""
    words = text.split()
    if not 2 <= len(words) <= 4 or fold(words[0]) not in lexicon.given_names:
        return False
    if not all(w[0].isupper() or fold(w) in ("de", "del", "la", "van", "von", "da", "di")
               for w in words):
        return False
    if fold(words[-1]) in _NOT_PERSON_HEADS or gaz.places(text):
        return False
    return not any(gaz.country_of(w) or lexicon.lookup(w) for w in words)


def _canonical_text(group: _Group, gaz: Gazetteer, *, language: str) -> str:
    known = next((s.known for s in group.spans if s.known is not None), None)
    if known is not None:
        return known.canonical
    if group.key.startswith("norp:"):
        said = group.spans[0].text
        demonym = gaz.demonym(said, language=language) or gaz.people_word(
            said, language=language
        )
        return demonym.canonical if demonym else said
    surfaces = Counter(s.text for s in group.spans)
    if len(group.key.split()) > 1:  # a folded surname never names its entity
        long_enough = {t: n for t, n in surfaces.items() if fold(t) == group.key}
        surfaces = Counter(long_enough) or surfaces
    cased = [t for t in surfaces if not t.isupper()]
    if not cased:
        only = next(iter(surfaces))
        if _majority(group) == "ORG" and " " not in only and len(only) <= _ACRONYM_MAX:
            return only  # "ETA", "CGT": an acronym, not a place's spelling ("eta")
        return gaz.display_name(only) or _title_caps(only)
    first = {t: i for i, t in reversed(list(enumerate(s.text for s in group.spans)))}
    return min(cased, key=lambda t: (-surfaces[t], first[t]))


_ACRONYM_MAX = 6


def _title_caps(text: str) -> str:
    """ "UNITED NATIONS" → "United Nations"; short words (US, EU) stay as they are."""
    if " " not in text:
        return text
    return " ".join(w.capitalize() if len(w) > 3 else w for w in text.split())
