"""Plain-text articles, as pasted from a newspaper: no title line, often a dateline.

A wire-style text opens with a dateline (``SANTA CRUZ, Bolivia—``, ``TAPACHULA, México.—``,
``EL PASO, Texas (AP) -``).  We keep the body whole, dateline included, because that is what
the reader saw and what entity offsets will refer to; the dateline is also copied to
``metadata["dateline"]`` since it is the best hint of where the story was filed.  Guessing a
title from the first sentence would put a fake headline in the index, so ``title`` stays
``None``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.ingest.inputs.records import Item, parse_record

_UPPER = "A-ZÁÉÍÓÚÑÜÀÈÌÒÙÇÂÊÎÔÛÃÕ"
# An upper-case place, optionally ", Region" or "(Agency)", then a dash of some kind.
_DATELINE = re.compile(
    rf"^\s*(?P<dateline>[{_UPPER}][{_UPPER} .'’\-]{{2,40}}?"
    rf"(?:,\s*[^\n—–]{{1,40}}?)?(?:\s*\([^)\n]{{1,30}}\))?)"
    r"\s*\.?\s*(?:—|–|--|-)\s*(?=\S)"
)


def find_dateline(text: str) -> str | None:
    """The dateline at the start of ``text`` (``SANTA CRUZ, Bolivia``), if there is one."""
    match = _DATELINE.match(text)
    if match is None:
        return None
    return match.group("dateline").strip(" .")


def read_text(text: str, *, origin: str, name: str | None = None) -> Iterator[Item]:
    """One article: the whole text as body, title ``None``, the dateline in metadata."""
    metadata: dict[str, str] = {}
    dateline = find_dateline(text)
    if dateline:
        metadata["dateline"] = dateline
    if name:
        metadata["source_file"] = name
    yield parse_record(origin, {"body": text, "metadata": metadata})
