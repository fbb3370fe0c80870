"""Reading articles from files, directories and standard input, whatever their format.

Everything yields ``Parsed`` (an origin and a validated ``RawArticle``) or ``Rejected`` (an
origin and a one-line reason), in input order, lazily: a bad file or record never stops the
others, and a large JSON Lines file is streamed line by line.

Formats by extension: ``.json`` (one object or a list), ``.jsonl``/``.ndjson``, ``.txt``
(plain text with a dateline), ``.html``/``.htm`` (main-text extraction), ``.xml``/``.rss``/
``.atom`` (RSS or Atom feeds); a ``.json`` file that is a JSON Feed is read as a feed.
Standard input (``-``) is sniffed.

Text must be text: UTF-8, or UTF-16/32 with a byte-order mark; binary data and UTF-16
without a mark are refused with that reason (``text_checks``).  No input may stop a run:
whatever a reader raises that it did not foresee becomes one rejection of that file, with
the exception's name, and the next file is read.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from pipeline.ingest.inputs.feeds import read_feed
from pipeline.ingest.inputs.html import read_html
from pipeline.ingest.inputs.jsonfmt import looks_like_jsonl, read_json, read_jsonl, read_jsonl_file
from pipeline.ingest.inputs.records import Item, Parsed, RecordError, Rejected, to_raw_article
from pipeline.ingest.inputs.text import find_dateline, read_text
from pipeline.ingest.inputs.text_checks import NotText, check_binary, decode_text

log = logging.getLogger("newsflow.inputs")

__all__ = [
    "SUFFIXES",
    "Item",
    "Parsed",
    "RecordError",
    "Rejected",
    "find_dateline",
    "read_bytes",
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
            binary = getattr(stream, "buffer", None)
            if binary is not None:  # bytes, so bad encodings get the same checks as files
                yield from read_bytes(binary.read(), origin="<stdin>")
            else:
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
    return _guarded(_sniffed(text, origin=origin), origin)


def read_bytes(data: bytes, *, origin: str, kind: str | None = None,
               name: str | None = None, base_url: str | None = None) -> Iterator[Item]:
    """Articles of downloaded or read bytes; ``kind`` (json, jsonl, text, html, feed) or
    sniffed.  ``base_url`` is where the bytes came from, for relative links."""
    return _guarded(_from_bytes(data, origin=origin, kind=kind, name=name,
                                base_url=base_url), origin)


def _sniffed(text: str, *, origin: str) -> Iterator[Item]:
    if not text.strip():
        yield Rejected(origin, "empty input: no articles")
        return
    head = text.lstrip()[:1024]
    lowered = head.lower()
    if head.startswith("["):
        yield from read_json(text, origin=origin)
    elif head.startswith("{"):
        if looks_like_jsonl(text):
            yield from read_jsonl(text.splitlines(), origin=origin)
        else:
            yield from read_json(text, origin=origin)
    elif head.startswith("<"):
        if any(marker in lowered for marker in _FEED_MARKERS):
            yield from read_feed(text, origin=origin)
        else:
            yield from read_html(text, origin=origin)
    else:
        yield from read_text(text, origin=origin)


def _from_bytes(data: bytes, *, origin: str, kind: str | None, name: str | None,
                base_url: str | None) -> Iterator[Item]:
    if kind == "feed":
        yield from read_feed(data, origin=origin, name=name, base_url=base_url)
        return
    if kind == "html":
        try:
            check_binary(data)
        except NotText as e:
            yield Rejected(origin, str(e))
            return
        yield from read_html(data, origin=origin, name=name)
        return
    try:
        text = decode_text(data)
    except NotText as e:
        yield Rejected(origin, str(e))
        return
    if kind == "json":
        yield from read_json(text, origin=origin, name=name, base_url=base_url)
    elif kind == "jsonl":
        yield from read_jsonl(text.splitlines(), origin=origin)
    elif kind == "text":
        if not text.strip():
            yield Rejected(origin, "empty file: no text")
        else:
            yield from read_text(text, origin=origin, name=name)
    else:
        yield from _sniffed(text, origin=origin)


def _read_file(path: Path) -> Iterator[Item]:
    origin = str(path)
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        yield Rejected(origin, f"unknown file type {path.suffix or '(none)'!r}; "
                               f"expected one of {', '.join(sorted(SUFFIXES))}")
        return
    try:
        if kind == "jsonl":
            with path.open("rb") as stream:
                yield from _guarded(read_jsonl_file(stream, origin=origin), origin)
            return
        data = path.read_bytes()
    except OSError as e:
        yield Rejected(origin, f"cannot read: {e.strerror or e}")
        return
    yield from read_bytes(data, origin=origin, kind=kind, name=path.name)


def _guarded(items: Iterator[Item], origin: str) -> Iterator[Item]:
    """The items, and one rejection instead of a traceback if the reader breaks down."""
    try:
        yield from items
    except RecursionError:
        yield Rejected(origin, "nested too deeply to read (stopped here)")
    except OSError as e:
        yield Rejected(origin, f"cannot read: {e.strerror or e} (stopped here)")
    except Exception as e:  # no input may stop the run; the log keeps the traceback
        log.exception("reading %s failed", origin)
        yield Rejected(origin, f"could not be read: {type(e).__name__}: {e} (stopped here)")
