"""One feed entry (RSS, Atom or JSON Feed) → one article record: the rules feeds share.

- The body is the longest text the entry carries (Atom may give a teaser ``summary`` and
  the full ``content``, in either order; RSS a ``description`` and ``content:encoded``),
  reduced to plain text when it is HTML and left alone when it is plain text.
- An entry with a title and no text is still news: its title becomes its body, and
  ``metadata["body_from"]`` says so (``content``, ``summary`` or ``title``) — which is
  also how the feed follower knows an entry carries only a teaser.
- A link that is relative is resolved against the entry's base (``xml:base``) or the
  feed's own address; a link that is not a web address (``urn:…``) is kept in metadata,
  and the article's id then comes from the entry's guid, so it is stable too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from pipeline.ingest.ids import guid_id
from pipeline.ingest.inputs.text_checks import strip_html

BODY_FROM = "body_from"
_HTML_TYPES = frozenset({"text/html", "html", "application/xhtml+xml", "xhtml"})


@dataclass(frozen=True, slots=True)
class Text:
    """A piece of entry text and whether it is HTML."""

    value: str
    html: bool

    def plain(self) -> str:
        return strip_html(self.value) if self.html else self.value.strip()


@dataclass(frozen=True, slots=True)
class Entry:
    """What the feed formats have in common, before the article rules apply."""

    title: Text | None
    bodies: list[tuple[str, Text]]  # ("content" | "summary", text), any order
    link: str | None
    base: str | None
    guid: str | None
    published: Any
    authors: list[str]
    languages: list[str | None]  # most specific first: entry, then feed
    categories: list[str]


def entry_record(entry: Entry, *, source: str | None, name: str | None,
                 feed_url: str | None) -> dict[str, Any]:
    """The record ``parse_record`` validates; empty fields are left out."""
    metadata: dict[str, Any] = {}
    title = entry.title.plain() if entry.title else ""
    body, body_from = _longest(entry.bodies)
    if not body and title:
        body, body_from = title, "title"
    if body_from:
        metadata[BODY_FROM] = body_from
    url = _resolve(entry.link, entry.base or feed_url)
    if entry.link and url is None:
        metadata["link"] = entry.link
    if entry.guid:
        metadata["guid"] = entry.guid
    if entry.categories:
        metadata["categories"] = ", ".join(entry.categories)
    if feed_url:
        metadata["feed_url"] = feed_url
    if name:
        metadata["source_file"] = name
    record: dict[str, Any] = {
        "id": guid_id(entry.guid) if url is None and entry.guid else None,
        "url": url,
        "title": title or None,
        "body": body or None,
        "source": source,
        "published_at": entry.published or None,
        "language": language_code(entry.languages),
        "authors": entry.authors,
        "metadata": metadata,
    }
    return {key: value for key, value in record.items() if value not in (None, [])}


def language_code(candidates: Iterable[str | None]) -> str | None:
    """The first usable ISO 639-1 code (``en-GB`` → ``en``), most specific candidate first."""
    for value in candidates:
        code = (value or "").strip().split("-")[0].split("_")[0].lower()
        if len(code) == 2 and code.isascii() and code.isalpha():
            return code
    return None


def _longest(bodies: list[tuple[str, Text]]) -> tuple[str, str | None]:
    best, kind = "", None
    for label, text in bodies:
        plain = text.plain()
        if len(plain) > len(best):
            best, kind = plain, label
    return best, kind


def _resolve(link: str | None, base: str | None) -> str | None:
    """An absolute http(s) URL for ``link``, or ``None`` when it cannot be one."""
    if not link:
        return None
    link = link.strip()
    if not urlsplit(link).scheme and base:
        link = urljoin(base, link)
    parts = urlsplit(link)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return link


def is_html(kind: str | None) -> bool:
    return (kind or "").lower() in _HTML_TYPES
