"""JSON (one article object, a list of them, or a JSON Feed) and JSON Lines (one a line).

JSON Lines files are read as bytes, a line at a time, so one bad byte costs its own line
(reported with its offset in the file) and never the lines after it; a file that is
binary from its first bytes is one rejection, not one per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from pipeline.ingest.inputs.jsonfeed import is_json_feed, read_json_feed
from pipeline.ingest.inputs.records import Item, Rejected, parse_record
from pipeline.ingest.inputs.text_checks import NotText, check_binary


class _BadJson(ValueError):
    pass


def read_json(text: str, *, origin: str, name: str | None = None,
              base_url: str | None = None) -> Iterator[Item]:
    """Articles of a JSON document; a bad element is rejected alone as ``origin[i]``.

    ``base_url``: where a JSON Feed came from, for its relative links."""
    try:
        data = _loads(text)
    except _BadJson as e:
        yield Rejected(origin, str(e))
        return
    if isinstance(data, list):
        if not data:
            yield Rejected(origin, "empty JSON list: no articles")
        for index, record in enumerate(data):
            yield parse_record(f"{origin}[{index}]", record)
    elif is_json_feed(data):
        yield from read_json_feed(data, origin=origin, name=name, base_url=base_url)
    else:
        yield parse_record(origin, data)


def read_jsonl(lines: Iterable[str], *, origin: str) -> Iterator[Item]:
    """Articles of JSON Lines text; a bad line is rejected alone as ``origin:line``."""
    seen = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        seen = True
        yield _line_item(line, f"{origin}:{number}")
    if not seen:
        yield Rejected(origin, "empty file: no articles")


def read_jsonl_file(stream: BinaryIO, *, origin: str) -> Iterator[Item]:
    """Articles of a JSON Lines file, line by line from bytes, with file offsets in errors."""
    head = stream.read(8192)
    stream.seek(0)
    try:
        check_binary(head)
    except NotText as e:
        yield Rejected(origin, str(e))
        return
    seen = False
    offset = 0
    for number, raw in enumerate(stream, start=1):
        start, offset = offset, offset + len(raw)
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw, start = raw[3:], start + 3
        if not raw.strip():
            continue
        seen = True
        where = f"{origin}:{number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield Rejected(where, f"not UTF-8: byte 0x{raw[e.start:e.start + 1].hex()} at file "
                                  f"offset {start + e.start} (column {e.start + 1})")
            continue
        if "\x00" in line:
            yield Rejected(where, f"NUL byte at file offset {start + line.index(chr(0))}: "
                                  "binary data in a text line")
            continue
        yield _line_item(line, where)
    if not seen:
        yield Rejected(origin, "empty file: no articles")


def looks_like_jsonl(text: str) -> bool:
    """True when the text is several JSON values, one a line, rather than one document."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].lstrip().startswith("{"):
        return False
    try:
        _loads(lines[0])
    except _BadJson:
        return False
    return True


def _line_item(line: str, where: str) -> Item:
    try:
        record = _loads(line)
    except _BadJson as e:
        return Rejected(where, str(e))
    return parse_record(where, record)


def _loads(text: str) -> Any:
    """``json.loads`` whose every failure is one ``_BadJson`` line, never a traceback."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise _BadJson(f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from e
    except RecursionError as e:  # "[[[[…" thousands deep
        raise _BadJson("not readable JSON: arrays or objects nested too deeply") from e
    except ValueError as e:  # e.g. an integer beyond Python's 4,300-digit limit
        raise _BadJson(f"not readable JSON: {' '.join(str(e).split())[:120]}") from e
