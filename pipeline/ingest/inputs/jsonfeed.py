"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1): each item is an article.

Recognised by its ``version`` URL, so a ``.json`` file (or the feed follower's download)
that is a JSON Feed is read as one, under the same entry rules as RSS and Atom.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pipeline.ingest.inputs.entries import Entry, Text, entry_record
from pipeline.ingest.inputs.records import Item, Rejected, parse_record

_VERSION_PREFIX = "https://jsonfeed.org/version/"


def is_json_feed(data: Any) -> bool:
    return (isinstance(data, Mapping)
            and str(data.get("version", "")).startswith(_VERSION_PREFIX)
            and "items" in data)


def read_json_feed(data: Mapping[str, Any], *, origin: str, name: str | None = None,
                   base_url: str | None = None) -> Iterator[Item]:
    """Articles of a parsed JSON Feed, ``origin[i]`` per item."""
    items = data.get("items")
    if not isinstance(items, list) or not items:
        yield Rejected(origin, "JSON Feed has no items")
        return
    title = data.get("title")
    source = title.strip() if isinstance(title, str) and title.strip() else None
    feed_url = _str(data.get("feed_url")) or _str(data.get("home_page_url")) or base_url
    feed_language = _str(data.get("language"))
    feed_authors = _authors(data)
    for index, item in enumerate(items):
        where = f"{origin}[{index}]"
        if not isinstance(item, Mapping):
            yield Rejected(where, f"expected an item object, got {type(item).__name__}")
            continue
        entry = _entry(item, feed_language, feed_authors)
        yield parse_record(where, entry_record(entry, source=source, name=name,
                                               feed_url=feed_url))


def _entry(item: Mapping[str, Any], feed_language: str | None, feed_authors: list[str]) -> Entry:
    bodies = []
    if _str(item.get("content_html")):
        bodies.append(("content", Text(item["content_html"], True)))
    if _str(item.get("content_text")):
        bodies.append(("content", Text(item["content_text"], False)))
    if _str(item.get("summary")):
        bodies.append(("summary", Text(item["summary"], False)))
    title = _str(item.get("title"))
    tags = item.get("tags")
    return Entry(
        title=Text(title, False) if title else None,
        bodies=bodies,
        link=_str(item.get("url")) or _str(item.get("external_url")),
        base=None,
        guid=_str(item.get("id")) if not isinstance(item.get("id"), bool) else None,
        published=item.get("date_published") or item.get("date_modified"),
        authors=_authors(item) or feed_authors,
        languages=[_str(item.get("language")), feed_language],
        categories=[str(t) for t in tags if isinstance(t, str | int)]
        if isinstance(tags, list) else [],
    )


def _authors(obj: Mapping[str, Any]) -> list[str]:
    people = obj.get("authors")
    if not isinstance(people, list):
        people = [obj["author"]] if isinstance(obj.get("author"), Mapping) else []
    names = []
    for person in people:
        if isinstance(person, Mapping):
            name = _str(person.get("name")) or _str(person.get("url"))
            if name:
                names.append(name)
    return names


def _str(value: Any) -> str | None:
    """Strings only (ids may be numbers in the wild); anything else counts as absent."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
