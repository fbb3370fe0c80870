"""Reading articles from files, directories and standard input, whatever their format.

Everything yields ``Parsed`` (an origin and a validated ``RawArticle``) or ``Rejected`` (an
origin and a one-line reason), in input order, lazily: a bad file or record never stops the
others, and a large JSON Lines file is streamed line by line.

Formats by extension: ``.json`` (one object or a list), ``.jsonl``/``.ndjson``, ``.txt``
(plain text with a dateline), ``.html``/``.htm`` (main-text extraction), ``.xml``/``.rss``/
``.atom`` (RSS or Atom feeds).  Standard input (``-``) is sniffed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from pipeline.ingest.inputs.feeds import read_feed
from pipeline.ingest.inputs.html import read_html
from pipeline.ingest.inputs.jsonfmt import looks_like_jsonl, read_json, read_jsonl
from pipeline.ingest.inputs.records import Item, Parsed, RecordError, Rejected, to_raw_article
from pipeline.ingest.inputs.text import find_dateline, read_text

__all__ = [
    "SUFFIXES",
    "Item",
    "Parsed",
    "RecordError",
    "Rejected",
    "find_dateline",
    "read_path",
    "read_sources",
    "read_string",
    "to_raw_article",
]

STDIN = "-"
_FORMATS = {
    ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "text",
    ".html": "html", ".htm": "html", ".xml": "feed", ".rss": "feed", ".atom": "feed",
}
SUFFIXES = frozenset(_FORMATS)
_FEED_MARKERS = ("<rss", "<feed", "<rdf:rdf")


def read_sources(sources: Iterable[str | Path], *, stdin: TextIO | None = None) -> Iterator[Item]:
    """Every article of every source: files, directories (recursively) or ``-`` for stdin."""
    for source in sources:
        if str(source) == STDIN:
            stream = stdin if stdin is not None else sys.stdin
            yield from read_string(stream.read(), origin="<stdin>")
        else:
            yield from read_path(Path(source))


def read_path(path: Path) -> Iterator[Item]:
    """Articles of one file, or of every known file under a directory (sorted, no dotfiles)."""
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            yield Rejected(str(path), f"no article files ({', '.join(sorted(SUFFIXES))}) here")
        for file in files:
            yield from _read_file(file)
    elif path.exists():
        yield from _read_file(path)
    else:
        yield Rejected(str(path), "no such file or directory")


def read_string(text: str, *, origin: str) -> Iterator[Item]:
    """Articles of text of unknown format: JSON, JSON Lines, a feed, HTML, else plain text."""
    if not text.strip():
        return iter([Rejected(origin, "empty input: no articles")])
    head = text.lstrip()[:1024]
    lowered = head.lower()
    if head.startswith("["):
        return read_json(text, origin=origin)
    if head.startswith("{"):
        if looks_like_jsonl(text):
            return read_jsonl(text.splitlines(), origin=origin)
        return read_json(text, origin=origin)
    if head.startswith("<"):
        if any(marker in lowered for marker in _FEED_MARKERS):
            return read_feed(text, origin=origin)
        return read_html(text, origin=origin)
    return read_text(text, origin=origin)


def _read_file(path: Path) -> Iterator[Item]:
    origin = str(path)
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        yield Rejected(origin, f"unknown file type {path.suffix or '(none)'!r}; "
                               f"expected one of {', '.join(sorted(SUFFIXES))}")
        return
    try:
        if kind == "html":
            yield from read_html(path.read_bytes(), origin=origin, name=path.name)
        elif kind == "feed":
            yield from read_feed(path.read_bytes(), origin=origin, name=path.name)
        elif kind == "jsonl":
            with path.open(encoding="utf-8-sig") as lines:
                yield from read_jsonl(lines, origin=origin)
        else:
            text = path.read_text(encoding="utf-8-sig")
            if kind == "json":
                yield from read_json(text, origin=origin)
            else:
                yield from read_text(text, origin=origin, name=path.name)
    except UnicodeDecodeError as e:
        yield Rejected(origin, f"not UTF-8 text (byte {e.start}): save it as UTF-8")
    except OSError as e:
        yield Rejected(origin, f"cannot read: {e.strerror or e}")
