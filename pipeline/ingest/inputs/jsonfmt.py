"""JSON (one article object, or a list of them) and JSON Lines (one object a line)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from pipeline.ingest.inputs.records import Item, Rejected, parse_record


def read_json(text: str, *, origin: str) -> Iterator[Item]:
    """Articles of a JSON document; a bad element is rejected alone as ``origin[i]``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        yield Rejected(origin, f"not valid JSON: {e}")
        return
    if isinstance(data, list):
        if not data:
            yield Rejected(origin, "empty JSON list: no articles")
        for index, record in enumerate(data):
            yield parse_record(f"{origin}[{index}]", record)
    else:
        yield parse_record(origin, data)


def read_jsonl(lines: Iterable[str], *, origin: str) -> Iterator[Item]:
    """Articles of a JSON Lines document; a bad line is rejected alone as ``origin:line``."""
    seen = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        seen = True
        where = f"{origin}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            yield Rejected(where, f"not valid JSON: {e.msg} (column {e.colno})")
            continue
        yield parse_record(where, record)
    if not seen:
        yield Rejected(origin, "empty file: no articles")


def looks_like_jsonl(text: str) -> bool:
    """True when the text is several JSON values, one a line, rather than one document."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].lstrip().startswith("{"):
        return False
    try:
        json.loads(lines[0])
    except json.JSONDecodeError:
        return False
    return True
