"""Feed lists in OPML (what every feed reader exports): the ``xmlUrl`` of each outline.

Parsed with the standard library's expat, which refuses external entities and (since
expat 2.4) stops entity-expansion bombs; a file that is not OPML is one clear error.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import NewsflowError


class OpmlError(NewsflowError):
    """The file is not a readable OPML feed list."""


@dataclass(frozen=True, slots=True)
class Outline:
    url: str
    title: str | None


def read_opml(path: Path) -> list[Outline]:
    """Every feed in the OPML file, in document order, each URL once."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise OpmlError(f"{path}: not a readable OPML file: {e}") from e
    if root.tag.lower() != "opml":
        raise OpmlError(f"{path}: not OPML (the root element is <{root.tag}>)")
    found: dict[str, Outline] = {}
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url and url not in found:
            title = outline.get("title") or outline.get("text")
            found[url] = Outline(url, title.strip() if title else None)
    if not found:
        raise OpmlError(f"{path}: no feeds (no <outline xmlUrl=…>) in it")
    return list(found.values())
