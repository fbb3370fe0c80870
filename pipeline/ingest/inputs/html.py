"""HTML pages: the article's main text without navigation, ads and comments (trafilatura).

Title, date, authors and site name come from the page's metadata when present; the URL is
the page's canonical link (or ``og:url``), which is the stable one to derive an id from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import trafilatura
from trafilatura.settings import Document

from pipeline.ingest.inputs.records import Item, Rejected, parse_record

_LANG = re.compile(r"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2})(?![A-Za-z])", re.IGNORECASE)
# Keep the time of day and zone when the page has them; date-only pages give midnight UTC.
_DATE_PARAMS = {"extensive_search": True, "original_date": True,
                "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


def read_html(content: bytes | str, *, origin: str, name: str | None = None) -> Iterator[Item]:
    """One article extracted from a page, or a rejection when the page has no main text."""
    try:
        doc = trafilatura.bare_extraction(
            content, with_metadata=True, include_comments=False, include_tables=True,
            date_extraction_params=_DATE_PARAMS,
        )
    except Exception as e:  # trafilatura/lxml raise a zoo of types on broken markup
        yield Rejected(origin, f"HTML could not be parsed: {e}")
        return
    if not isinstance(doc, Document) or not (doc.text or "").strip():
        yield Rejected(origin, "no article text found in the HTML page")
        return
    yield parse_record(origin, _record(doc, content, name))


def _record(doc: Document, content: bytes | str, name: str | None) -> dict[str, Any]:
    title = (doc.title or "").strip() or None
    body = (doc.text or "").strip()
    if title and body.startswith(title):
        # trafilatura keeps the <h1> as the first line; the title already says it.
        rest = body[len(title):].lstrip()
        body = rest or body
    metadata: dict[str, Any] = {}
    if doc.description:
        metadata["description"] = doc.description
    for key in ("categories", "tags"):
        values = getattr(doc, key, None)
        if values:
            metadata[key] = ", ".join(values)
    if name:
        metadata["source_file"] = name
    record: dict[str, Any] = {
        "url": doc.url or None,
        "title": title,
        "body": body,
        "source": doc.sitename or doc.hostname or None,
        "published_at": doc.date or None,
        "authors": [a.strip() for a in (doc.author or "").split(";") if a.strip()],
        "language": _language(content),
        "metadata": metadata,
    }
    return {key: value for key, value in record.items() if value is not None}


def _language(content: bytes | str) -> str | None:
    head = content[:4096]
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    match = _LANG.search(text)
    return match.group(1).lower() if match else None
