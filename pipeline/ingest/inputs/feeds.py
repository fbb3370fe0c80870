"""RSS 0.9x/1.0/2.0 and Atom feeds: each entry is an article (feedparser).

feedparser never expands entities a feed declares in its own DTD (which is what defuses
an entity-expansion bomb), so those references survive as text ("&lol9"); their names are
collected here and removed from the text, and an entry made of nothing else is refused.
The rules for turning an entry into an article are in ``entries``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import feedparser

from pipeline.ingest.inputs.entries import Entry, Text, entry_record, is_html
from pipeline.ingest.inputs.records import Item, Rejected, parse_record
from pipeline.ingest.inputs.text_checks import NotText, check_binary, strip_html

__all__ = ["read_feed", "strip_html"]

_DECLARED = re.compile(rb"<!ENTITY\s+(?:%\s+)?([A-Za-z_][\w.\-]*)")
# Byte-order marks, and how "<?" starts in UTF-16/32 without one: XML names its encoding
# (XML 1.0, appendix F), so such a feed is text, unlike a .txt file in UTF-16 without a mark.
_UNICODE_STARTS = (b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\x00\x00\xfe\xff",
                   b"\x00<\x00?", b"<\x00?\x00", b"\x00\x00\x00<", b"<\x00\x00\x00")


def read_feed(content: bytes | str, *, origin: str, name: str | None = None,
              base_url: str | None = None) -> Iterator[Item]:
    """Articles of one feed, ``origin[i]`` per entry; an unreadable feed is one rejection.

    ``base_url`` is where the feed was fetched from: relative links resolve against it
    when the feed has no ``xml:base`` or self link of its own.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    if not data.startswith(_UNICODE_STARTS):
        try:
            check_binary(data)
        except NotText as e:
            yield Rejected(origin, str(e))
            return
    headers = {"content-location": base_url} if base_url else None
    try:
        feed = feedparser.parse(data, response_headers=headers, sanitize_html=True)
    except Exception as e:  # feedparser wraps most errors as bozo; a crash is one rejection
        yield Rejected(origin, f"not a readable feed: {type(e).__name__}: {e}")
        return
    if not feed.entries:
        reason = "feed has no entries"
        if feed.bozo:
            reason = f"not a readable feed: {feed.bozo_exception}"
        yield Rejected(origin, reason)
        return
    declared = frozenset(m.decode("ascii", "replace") for m in _DECLARED.findall(data[:65536]))
    info = feed.feed
    source = _plain(info.get("title_detail"), info.get("title")) or None
    feed_url = _self_link(info) or info.get("link") or base_url
    feed_languages = [info.get("language"), (info.get("title_detail") or {}).get("language")]
    for index, raw in enumerate(feed.entries):
        entry = _entry(raw, feed_languages)
        record = entry_record(entry, source=source, name=name, feed_url=feed_url)
        yield parse_record(f"{origin}[{index}]", record, declared_entities=declared)


def _entry(raw: Any, feed_languages: list[str | None]) -> Entry:
    bodies: list[tuple[str, Text]] = [
        ("content", Text(c.get("value") or "", is_html(c.get("type"))))
        for c in raw.get("content") or []
    ]
    summary = raw.get("summary_detail") or {}
    if raw.get("summary"):
        bodies.append(("summary", Text(raw["summary"], is_html(summary.get("type", "text/html")))))
    title_detail = raw.get("title_detail") or {}
    title = raw.get("title")
    details = [*(raw.get("content") or []), summary, title_detail]
    return Entry(
        title=Text(title, is_html(title_detail.get("type"))) if title else None,
        bodies=bodies,
        link=raw.get("link") or _first_link(raw),
        base=title_detail.get("base") or summary.get("base"),
        guid=raw.get("id") or None,
        published=_published(raw),
        authors=_authors(raw),
        languages=[d.get("language") for d in details] + feed_languages,
        categories=[t.get("term") for t in raw.get("tags") or [] if t.get("term")],
    )


def _published(raw: Any) -> Any:
    """feedparser's UTC struct for dates it knows; else the raw text, kept as a note."""
    for key in ("published", "updated", "created"):
        parsed = raw.get(f"{key}_parsed")
        if parsed:
            return "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}+00:00".format(*parsed[:6])
    for key in ("published", "updated", "created"):
        if raw.get(key):
            return str(raw[key])
    return None


def _authors(raw: Any) -> list[str]:
    names = []
    for author in raw.get("authors") or []:
        name = (author.get("name") or author.get("email") or "").strip()
        if name and name not in names:
            names.append(name)
    if not names and raw.get("author"):
        names.append(str(raw["author"]).strip())
    return [n for n in names if n]


def _first_link(raw: Any) -> str | None:
    for link in raw.get("links") or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


def _self_link(info: Any) -> str | None:
    for link in info.get("links") or []:
        if link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return None


def _plain(detail: Any, value: str | None) -> str:
    if not value:
        return ""
    return strip_html(value) if is_html((detail or {}).get("type")) else value.strip()

