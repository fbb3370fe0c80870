"""Where a name in an article is a credit, not a mention: photo credits, datelines, bylines.

"[Jonathan Ernst/Reuters]", "(AP Photo/Evan Vucci)", "Photograph: Ana Ruiz/Getty Images",
"WASHINGTON (AP) —", "Madrid, 23 may (EFE)." name the agency and the photographer of a
picture or a wire story, and "By Ana Ruiz", "Ana Ruiz is a reporter for…", "Follow Ana
Ruiz on Twitter" its writer, not anyone the story is about.  The model finds them as persons
and organisations, and as facet values they would count every article of one agency or one
photographer ("AP Photo" among the persons, "EFE" in every EFE item).  So the entities step
drops the model's spans inside these ranges, and puts back only the agencies named there
(``Credits.agencies``): an agency is an organisation, but it is the story's source, which
goes to its own facet.  A name that is also mentioned in the story keeps its other mentions.

Agencies are recognised by the credit's own words (Photo, Images, Getty, Pool...) and by
the organisations of the lexicon: an agency users add there is recognised too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.enrichment.gazetteer import Gazetteer, fold
from pipeline.enrichment.lexicon import Lexicon

# Words that make the side of a slash they end a credit ("AP Photo", "Getty Images").
_CREDIT_WORDS = frozenset({
    "photo", "photos", "photograph", "images", "image", "pictures", "foto", "fotos",
    "imagenes", "pool", "file", "archive", "archivo", "getty", "shutterstock", "alamy",
    "epa", "efe", "nurphoto", "zuma", "sipa", "anadolu", "xinhua", "handout",
})  # fmt: skip
_NAME = r"[A-Z\u00C0-\u00DE][\w'’.&-]*(?: (?:[A-Z\u00C0-\u00DE][\w'’.&-]*|de|van|von|da|del))*"
# "Name/Agency", "Agency Photo/Name", "Name/Pool/Reuters", "Name/AFP via Getty Images".
_SLASH_CHAIN = re.compile(
    rf"(?<![\w/])({_NAME})((?:/(?:The )?{_NAME})+)(?: via (?:{_NAME}))?"
)
# A bracket holding a slash credit or a "File:" note: "[File: Name/AP Photo]".
_BRACKET = re.compile(
    r"\[(?:File|Archive|Archivo|Photo|Foto)\s*:[^\[\]\n]{0,120}\]"
    r"|[\[(][^\[\]()\n]{0,100}\b(?:Photo|Photos|Images|Foto|Fotos)\b[^\[\]()\n]{0,60}[\])]"
)
# A caption's credit runs to the end of its line: "Photograph: Ana Ruiz/Getty Images".
_CAPTION = re.compile(
    r"\b(?:Photograph|Photo|Foto|Fotografía|Credit|Crédito|Illustration|Ilustración"
    r"|Composite)(?:\s*:| by| de)\s*([^\n]{1,80}?)(?=\s*(?:\n|$))"
)
# A wire signature ends an item: the agency and the editors' initials, "EFE pa-c", "AP jm/lb".
_SIGNATURE = re.compile(r"(?:^|\n)([A-Z]{2,10})\s+[a-z]{1,4}(?:[-/][a-z]{1,4})+(?=\s|$)")
# A dateline: capitalised words, numbers and month names, then "(Agency)", then a dash,
# a full stop, a colon or the story: "WASHINGTON (AP) —", "(CNN)The", "Lima, 3 jun (EFE).".
_DATELINE = re.compile(r"(?:^|\n)([^\n]{0,80}?)\(([^()\n]{2,40})\)(?=\s*[-—–.:]|[A-Z])")
_MONTHS = frozenset({
    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "sept", "oct", "nov",
    "dic", "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
    "septiembre", "octubre", "noviembre", "diciembre", "de", "del",
})  # fmt: skip
# Bylines and author notes, at the start of a line: "By Ana Ruiz", "Por Ana Ruiz", "Follow
# Ana Ruiz on Twitter", "Ana Ruiz is a reporter for…", "Ana Ruiz serves as senior editor…".
_CAPITAL_WORD = r"[A-Z\u00C0-\u00DE][\w'’.-]*"
_PERSON_NAME = rf"{_CAPITAL_WORD}(?: (?:{_CAPITAL_WORD}|de|del|van|von|da)){{1,3}}"
_BYLINE = re.compile(
    rf"(?:^|\n)(?:By|Por|BY|POR) ({_PERSON_NAME})(?=[ \t]*(?:\n|$|,|\||and |y |in |en ))"
    rf"|(?:^|\n)(?:Follow|Sigue a) ({_PERSON_NAME}) (?:on|en) (?:Twitter|X|Facebook|Instagram)"
    rf"|(?:^|\n)({_PERSON_NAME}) (?:is|was|serves as|es) (?:a |an |the |el |la |un |una )?"
    r"(?:[\w-]+ ){0,5}?(?:reporter|correspondent|writer|editor|contributor|columnist"
    r"|journalist|producer|periodista|corresponsal|redactora?|columnista|editora?)\b"
)
_LOWER_WORD = re.compile(r"(?<![\w'’])[a-zà-ÿ][\w'’]*")


@dataclass(frozen=True, slots=True)
class Credits:
    """The credits of one text: ``[start, end)`` ranges, sorted, and the agencies they name
    (``[start, end)`` of each agency's name as written, inside a range)."""

    ranges: list[tuple[int, int]]
    agencies: list[tuple[int, int]]


def find_credits(text: str, gaz: Gazetteer, lexicon: Lexicon) -> Credits:
    """Credits in ``text`` and the agencies they name ("AP" in "(AP Photo/Evan Vucci)",
    "EFE" in "Lima, 3 jun (EFE)."); bylines name none."""
    found: list[tuple[int, int]] = []
    agencies: list[tuple[int, int]] = []

    def credit(start: int, end: int, inner: tuple[int, int] | None = None) -> None:
        found.append((start, end))
        agencies.extend(_agencies(text, *(inner or (start, end)), lexicon))

    for m in _BRACKET.finditer(text):
        credit(*m.span())
    for m in _CAPTION.finditer(text):
        if _names_only(m.group(1)):
            credit(*m.span(), inner=m.span(1))
    if "/" in text:
        for m in _SLASH_CHAIN.finditer(text):
            if _is_credit(m, gaz, lexicon):
                credit(*m.span())
    for m in _BYLINE.finditer(text):
        group = next(g for g in (1, 2, 3) if m.group(g))
        found.append(m.span(group))
    for m in _SIGNATURE.finditer(text):
        if _is_agency(m.group(1), lexicon):
            found.append(m.span(1))
            agencies.append(m.span(1))
    for m in _DATELINE.finditer(text):
        before = _SIGNATURE.sub("", m.group(1))  # "EFE pa-c París, 23 may (EFE)."
        if not (before.strip() or _story_follows(text, m.end(2) + 1)
                or _has_credit_word(m.group(2))):  # fmt: skip
            continue  # "(PP)." alone on its line: a heading; "(EFE)." there is a credit
        if _is_dateline(before, gaz) and _is_agency(m.group(2), lexicon):
            credit(m.start(2) - 1, m.end(2) + 1, inner=m.span(2))
    return Credits(sorted(found), _apart(agencies))


def in_credit(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether ``[start, end)`` lies inside one of ``ranges``."""
    return any(s <= start and end <= e for s, e in ranges)


_QUOTES = frozenset('"“”‘’«»\'')


def _is_credit(m: re.Match[str], gaz: Gazetteer, lexicon: Lexicon) -> bool:
    """A slash pair is a credit when one side is a credit word ("AP Photo", "Getty Images",
    "Pool") or when a person-like name comes before an organisation ("Ana Ruiz/Reuters");
    not two organisations ("NBC News/Wall Street Journal poll") or places, nor a title in
    quotation marks ("MLK/FBI", a film)."""
    text, start, end = m.string, m.start(), m.end()
    if start and text[start - 1] in _QUOTES and text[end : end + 1] in _QUOTES:
        return False
    left = m.group(1)
    right = [p.removeprefix("The ").strip() for p in m.group(2).split("/") if p.strip()]
    if any(_has_credit_word(part) for part in (left, *right)):
        return True
    known_left = lexicon.lookup(left)
    if (known_left is not None and known_left.label != "PERSON") or gaz.places(left):
        return False
    known_right = lexicon.lookup(right[0])
    return known_right is not None and known_right.label == "ORG"


def _names_only(credit: str) -> bool:
    """"Ana Ruiz/Getty Images", "Reuters": names only, not a description of the picture."""
    words = credit.replace("/", " ").split()
    return all(w[0].isupper() or w in ("via", "for", "de", "and", "y") for w in words)


def _has_credit_word(part: str) -> bool:
    return any(fold(w) in _CREDIT_WORDS for w in part.split())


def _is_dateline(before: str, gaz: Gazetteer) -> bool:
    """Nothing before the agency, or a place and a date: only capitalised words, numbers
    and months, starting with a place in capitals or a known place, or holding a date.
    ("The UN Refugee Agency (UNHCR)." is no dateline.)"""
    if any(fold(w) not in _MONTHS for w in _LOWER_WORD.findall(before)):
        return False
    head = re.split(r"[,(]", before, maxsplit=1)[0].strip()
    return not head or head.isupper() or any(c.isdigit() for c in before) or bool(
        gaz.places(head)
    )


def _story_follows(text: str, end: int) -> bool:
    """Whether the line goes on after a bracket with words or a dash ("(CNN) —" then the
    story), not only with a full stop."""
    line_end = text.find("\n", end)
    rest = text[end : line_end if line_end >= 0 else len(text)]
    return any(c.isalnum() or c in "-—–" for c in rest)


def _is_agency(name: str, lexicon: Lexicon) -> bool:
    known = lexicon.lookup(name.strip())
    return (known is not None and known.label == "ORG") or _has_credit_word(name)


# Words around an agency's name in a credit that are not part of it: "AP Photo", "Pool",
# "File".  ("Images" and "Pictures" are: "Getty Images", "Reuters Pictures".)
_NOT_NAME_WORDS = frozenset({
    "photo", "photos", "photograph", "foto", "fotos", "pool", "file", "archive", "archivo",
    "handout", "staff", "image", "imagen", "illustration", "ilustracion", "composite",
    "graphic", "video",
})  # fmt: skip
# What separates the parts of a credit: "Name/Agency", "AFP via Getty Images", "Name for
# The Washington Post", "File: Name/AP", "Name, Reuters", "Name. Agency".
_PART = re.compile(r"(?:[^/\[\]():;,.\n]|\.(?!\s))+")
_JOINER = re.compile(r"\s(?:via|for|and|y|para|de)\s")
_WORD = re.compile(r"[^\s]+")


def _agencies(text: str, start: int, end: int, lexicon: Lexicon) -> list[tuple[int, int]]:
    """The agencies named in the credit ``text[start:end]``: each part of it that is an
    organisation of the lexicon or holds an agency's own word (Getty, EPA, Xinhua...),
    without the credit's words ("AP" in "AP Photo")."""
    out: list[tuple[int, int]] = []
    for part in _PART.finditer(text, start, end):
        s = part.start()
        for piece in _JOINER.split(part.group()):
            found = _agency(piece, lexicon)
            if found is None and "-" in piece:  # "EPA-EFE", not "Agence France-Presse"
                offset = 0
                for sub in piece.split("-"):
                    inner = _agency(sub, lexicon)
                    if inner is not None:
                        out.append((s + offset + inner[0], s + offset + inner[1]))
                    offset += len(sub) + 1
            elif found is not None:
                out.append((s + found[0], s + found[1]))
            s += len(piece)
            joiner = _JOINER.match(part.group(), s - part.start())
            s += len(joiner.group()) if joiner else 0
    return out


def _agency(piece: str, lexicon: Lexicon) -> tuple[int, int] | None:
    """``[start, end)`` in ``piece`` of the agency it names, or None (a person's name, a
    credit word alone)."""
    words = [w for w in _WORD.finditer(piece) if w.group().strip(".")]
    # "the Washington Post": no name starts with a lowercase word
    while words and (fold(words[0].group()) in _NOT_NAME_WORDS or words[0].group().islower()):
        words.pop(0)
    while words and fold(words[-1].group()) in _NOT_NAME_WORDS:
        words.pop()
    if not words:
        return None
    # The longest listed name the piece starts or ends with: "Getty Images Pete Wilson".
    for n in range(len(words), 0, -1):
        for run in (words[:n], words[-n:]):
            known = lexicon.lookup(piece[run[0].start() : run[-1].end()])
            if known is not None and known.label == "ORG":
                return run[0].start(), run[-1].end()
    span = (words[0].start(), words[-1].end())
    known = lexicon.lookup(piece[span[0] : span[1]])
    if known is not None or not _has_credit_word(piece[span[0] : span[1]]):
        return None  # a person, a place: no agency
    return span


def _apart(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, each agency once: a credit two patterns read ("[Name for the Washington
    Post/Getty Images]") gives its agencies once, the longest reading of each."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(set(spans), key=lambda s: (s[0], -s[1])):
        if out and start < out[-1][1]:
            continue
        out.append((start, end))
    return out
