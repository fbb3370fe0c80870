"""Elasticsearch's ``standard`` analyzer, mimicked, and the fields a rule may name.

A rule must match in the stream exactly what the same query finds in the index, so the
stream has to cut text into the same terms the index holds.  The index maps ``title`` and
``body`` as ``text`` with the ``standard`` analyzer: Unicode word segmentation (UAX #29)
then per-code-point lowercasing, no stop words, no accent folding.  The regular
expression below implements the UAX #29 rules that matter for Latin-script text:

* letters and digits join (``covid19``, ``19th``, ``1º``);
* a letter, one of ``' . : ’ ‘ ·`` and a letter stay one word (``o'clock``, ``U.S``);
* a digit, one of ``, . ; '`` and a digit stay one number (``1,000.50``, ``2,5``);
* ``_`` (and other connector punctuation) joins anything (``border_crossing``);
* everything else (``-``, ``/``, ``@``, spaces, a trailing ``.``) separates; a run with no
  letter or digit is not a term;
* Han and Hiragana characters are one term each; terms longer than 255 are split.

Not mimicked (we index English and Spanish news): emoji terms, Thai/Lao/Khmer/Myanmar
dictionary segmentation, Hebrew quote rules, combining marks before a mid-word
punctuation character.  The parity test against a real node is the judge.
"""

from __future__ import annotations

import re
from typing import Final

from schemas.articles import EnrichedArticle
from schemas.index import ARTICLE_DEFAULT_FIELDS, properties

MAX_TOKEN_LENGTH: Final = 255

_HAN = r"\u3040-\u309f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # one term per character
_L = rf"[^\W\d_{_HAN}]"  # letters
_RUN = rf"[^\W{_HAN}]+"  # letters, digits and '_': they always join (the fast path)
_MID_LETTER = r"[':.\u00b7\u0387\u05f4\u2018\u2019\u2024\u2027\ufe13\ufe52\ufe55\uff07\uff0e\uff1a]"
_MID_NUM = (
    r"[',.;\u037e\u0589\u060c\u060d\u066c\u07f8\u2018\u2019\u2024\u2044"
    r"\ufe10\ufe14\ufe50\ufe52\ufe54\uff07\uff0c\uff0e\uff1b]"
)
_EXTEND_NUM_LET = r"[_\u202f\u203f\u2040\u2054\ufe33\ufe34\ufe4d-\ufe4f\uff3f]"
_EXTEND = r"[\u00ad\u0300-\u036f\u200c\u200d\ufe00-\ufe0f]"
_TOKEN = re.compile(
    rf"[{_HAN}]"
    rf"|{_EXTEND_NUM_LET}*(?:{_L}|\d)"
    rf"(?:{_RUN}|{_EXTEND_NUM_LET}|{_EXTEND}"
    rf"|(?<={_L}){_MID_LETTER}(?={_L})"
    rf"|(?<=\d){_MID_NUM}(?=\d))*"
)
# Java lowercases one code point at a time (Character.toLowerCase); Python's str.lower
# applies SpecialCasing: 'İ' becomes two code points and a final 'Σ' becomes 'ς'.
_JAVA_LOWER_EXCEPTIONS: Final = {"\u0130": "i"}


def lowercase(text: str) -> str:
    """Lowercase like Lucene's ``LowerCaseFilter`` (per code point, no special casing)."""
    if text.isascii():
        return text.lower()
    return "".join(_JAVA_LOWER_EXCEPTIONS.get(ch) or ch.lower() for ch in text)


def analyze(text: str) -> list[str]:
    """The terms the ``standard`` analyzer indexes for ``text``, in position order."""
    # Lowercasing first keeps letters letters, so the cuts are the same and one C call
    # does the work; the two special-casing characters take the slow path.
    if "\u0130" in text or "\u03a3" in text:
        tokens = [lowercase(t) for t in _TOKEN.findall(text)]
    else:
        tokens = _TOKEN.findall(text.lower())
    if any(len(t) > MAX_TOKEN_LENGTH for t in tokens):
        tokens = [
            t[i : i + MAX_TOKEN_LENGTH] for t in tokens for i in range(0, len(t), MAX_TOKEN_LENGTH)
        ]
    return tokens


# The fields a rule may name: the searchable text and the enrichment keywords.  Their
# kinds come from the index mapping, so a change of mapping cannot silently change what
# a rule means in the stream.
_RULE_FIELDS: Final = (
    "title",
    "body",
    "tags",
    "places",
    "persons",
    "orgs",
    "nationalities",
    "groups",
    "agencies",
    "language",
    "source",
    "countries",
)
_MAPPING = properties(EnrichedArticle)
TEXT_FIELDS: Final = frozenset(f for f in _RULE_FIELDS if _MAPPING[f].get("type") == "text")
KEYWORD_FIELDS: Final = frozenset(f for f in _RULE_FIELDS if _MAPPING[f].get("type") == "keyword")
# One definition: the index template makes these the default fields of a query without
# ``fields`` (Kibana's search bar), so Kibana and the matcher read the same text.
DEFAULT_FIELDS: Final = ARTICLE_DEFAULT_FIELDS
RULE_FIELDS: Final = tuple(sorted(TEXT_FIELDS | KEYWORD_FIELDS))
