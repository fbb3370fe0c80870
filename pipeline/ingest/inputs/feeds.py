"""RSS and Atom feed files: each entry is an article (feedparser).

Feeds carry HTML in their summaries and content; it is reduced to plain text with paragraph
breaks kept, since the text is what gets analysed and indexed.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import feedparser

from pipeline.ingest.inputs.records import Item, Rejected, parse_record

_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
                         "blockquote", "tr", "table", "section", "article", "figure", "pre"})
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})


def read_feed(content: bytes | str, *, origin: str, name: str | None = None) -> Iterator[Item]:
    """Articles of one feed, ``origin[i]`` per entry; an unreadable feed is one rejection."""
    feed = feedparser.parse(content)
    if not feed.entries:
        reason = "feed has no entries"
        if feed.bozo:
            reason = f"not a readable feed: {feed.bozo_exception}"
        yield Rejected(origin, reason)
        return
    source = (feed.feed.get("title") or "").strip() or None
    language = (feed.feed.get("language") or "")[:2].lower() or None
    for index, entry in enumerate(feed.entries):
        yield parse_record(f"{origin}[{index}]", _record(entry, source, language, name))


def strip_html(fragment: str) -> str:
    """Plain text of an HTML fragment: tags gone, entities decoded, paragraphs on new lines."""
    parser = _TextCollector()
    parser.feed(fragment)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _record(entry: Any, source: str | None, language: str | None,
            name: str | None) -> dict[str, Any]:
    contents = entry.get("content") or []
    html = contents[0].get("value", "") if contents else entry.get("summary", "")
    metadata: dict[str, Any] = {}
    if entry.get("id"):
        metadata["guid"] = entry["id"]
    terms = [tag.get("term") for tag in entry.get("tags") or [] if tag.get("term")]
    if terms:
        metadata["categories"] = ", ".join(terms)
    if name:
        metadata["source_file"] = name
    authors = [a.get("name") for a in entry.get("authors") or [] if a.get("name")]
    record: dict[str, Any] = {
        "url": entry.get("link") or None,
        "title": strip_html(entry.get("title", "")) or None,
        "body": strip_html(html),
        "source": source,
        "published_at": _published(entry),
        "language": language if language and language.isalpha() else None,
        "authors": authors,
        "metadata": metadata,
    }
    return {key: value for key, value in record.items() if value is not None}


def _published(entry: Any) -> datetime | None:
    # feedparser normalises every date format it knows to a UTC struct_time.
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)
