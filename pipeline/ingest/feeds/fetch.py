"""One poll of one feed over HTTP: conditional GET, parse, keep only unseen entries, and
(when asked) the article page instead of a teaser.

Runs in a follower's worker thread; it never touches Kafka.  Every failure becomes the
``error`` of the result (one line), so the caller only has to schedule the next try.

- Conditional GET: ``If-None-Match``/``If-Modified-Since`` from the last answer; a 304
  costs no parsing and publishes nothing.
- Downloads stop at ``feeds_max_bytes`` and ``feeds_timeout_seconds``: a feed that
  streams forever or answers slowly cannot hold a worker.
- Full text (``feeds add --full-text``): an entry whose text came from a summary or its
  title and is shorter than ``feeds_teaser_chars`` gets its page fetched and extracted
  (trafilatura), if the site's robots.txt allows our user agent, and the page is on a
  public address (or on the feed's own host).  When the page fails, the teaser is
  published and ``metadata["full_text_error"]`` says why.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from pipeline.core.retry import retry_after_seconds
from pipeline.core.settings import Settings
from pipeline.ingest.feeds.book import Feed
from pipeline.ingest.feeds.schedule import host_of
from pipeline.ingest.feeds.transport import VettedTransport, refusal, trusted_host
from pipeline.ingest.ids import article_id
from pipeline.ingest.inputs import Parsed, Rejected, read_bytes
from pipeline.ingest.inputs.entries import BODY_FROM

_ROBOTS_TTL = 3600.0
_PAGE_BUDGET_POLLS = 3  # page fetches of one poll stop after 3 request timeouts
_FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
                "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")


@dataclass
class PollResult:
    """A poll's answer: new articles (with ids) to publish, and what to remember."""

    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    retry_after: float | None = None
    new: list[tuple[str, Parsed]] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class _TooLarge(Exception):
    pass


def http_client(settings: Settings) -> httpx.Client:
    """One client per follower: pooled connections, our user agent, bounded time, and every
    connection (redirects included) to a vetted address (``transport``)."""
    return httpx.Client(
        headers={"User-Agent": settings.feeds.user_agent},
        timeout=httpx.Timeout(settings.feeds.timeout_seconds),
        follow_redirects=True,
        max_redirects=5,
        transport=VettedTransport(allow_private=settings.feeds.allow_private_pages),
        trust_env=False,
    )


def poll_feed(client: httpx.Client, feed: Feed, *, seen: set[str], settings: Settings,
              robots: Robots) -> PollResult:
    """Fetch ``feed``, return its entries not in ``seen``; never raises for the feed's sake.

    Only the feed's own host may be on a private address; any other host (a page, a
    redirect's target) must be public when the connection is made."""
    with trusted_host(host_of(str(feed.sub.url))):
        return _poll_feed(client, feed, seen=seen, settings=settings, robots=robots)


def _poll_feed(client: httpx.Client, feed: Feed, *, seen: set[str], settings: Settings,
               robots: Robots) -> PollResult:
    url = str(feed.sub.url)
    headers = {"Accept": _FEED_ACCEPT}
    if feed.state.etag:
        headers["If-None-Match"] = feed.state.etag
    if feed.state.last_modified:
        headers["If-Modified-Since"] = feed.state.last_modified
    try:
        response, body = _get(client, url, headers=headers, settings=settings)
    except _TooLarge as e:
        return PollResult(error=str(e))
    except httpx.TimeoutException:
        return PollResult(error=f"timed out after {settings.feeds.timeout_seconds:g}s")
    except httpx.HTTPError as e:
        return PollResult(error=f"{type(e).__name__}: {e}"[:300])
    result = PollResult(status=response.status_code)
    if response.status_code == 304:
        return result
    if response.status_code >= 400:
        result.error = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        result.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return result
    result.etag = response.headers.get("ETag")
    result.last_modified = response.headers.get("Last-Modified")
    _read_entries(result, body, final_url=str(response.url), content_type=response.headers.get(
        "Content-Type", ""), seen=seen)
    if feed.sub.full_text and result.new:
        wanted = len(result.new)
        result.new = _full_texts(client, result.new, settings=settings, robots=robots,
                                 seen=seen)
        if len(result.new) < wanted:  # the next poll must not be answered 304
            result.etag = result.last_modified = None
    return result


def _full_texts(client: httpx.Client, new: list[tuple[str, Parsed]], *, settings: Settings,
                robots: Robots, seen: set[str]) -> list[tuple[str, Parsed]]:
    """Pages for the teasers, within a time budget; entries left over wait for the next
    poll (they stay unseen), so a feed of 200 teasers cannot hold the follower."""
    deadline = time.monotonic() + _PAGE_BUDGET_POLLS * settings.feeds.timeout_seconds
    done: list[tuple[str, Parsed]] = []
    fetched = False
    for ident, item in new:
        if not _wants_page(item, settings):
            done.append((ident, item))
            continue
        if time.monotonic() > deadline:
            seen.discard(ident)
            continue
        if fetched:  # pages mostly share one host: the same pause as between feeds
            time.sleep(settings.feeds.host_delay_seconds)
        fetched = True
        done.append((ident, _with_full_text(client, item, settings=settings, robots=robots)))
    return done


def _wants_page(item: Parsed, settings: Settings) -> bool:
    """A teaser: text from a summary or the title, shorter than ``teaser_chars``."""
    article = item.article
    return (article.url is not None and article.metadata.get(BODY_FROM) in {"summary", "title"}
            and len(article.body) < settings.feeds.teaser_chars)


def _read_entries(result: PollResult, body: bytes, *, final_url: str, content_type: str,
                  seen: set[str]) -> None:
    kind = "json" if "json" in content_type or body.lstrip()[:1] == b"{" else "feed"
    items = list(read_bytes(body, origin=final_url, kind=kind, base_url=final_url))
    if len(items) == 1 and isinstance(items[0], Rejected) and items[0].origin == final_url:
        result.error = f"not a feed: {items[0].reason}"[:300]
        return
    for item in items:
        if isinstance(item, Rejected):
            result.rejected.append(item)
            continue
        ident = article_id(item.article)
        result.current.append(ident)
        if ident not in seen:
            result.new.append((ident, item))
            seen.add(ident)  # the same entry twice in one feed is published once


def _with_full_text(client: httpx.Client, item: Parsed, *, settings: Settings,
                    robots: Robots) -> Parsed:
    article = item.article
    url = str(article.url)
    # A first answer, for a clear reason; the transport decides again on connecting.
    problem = refusal(url, allow_private=settings.feeds.allow_private_pages)
    if problem is None and not robots.allowed(client, url, settings=settings):
        problem = "robots.txt disallows it"
    page: Parsed | None = None
    if problem is None:
        try:
            response, body = _get(client, url, headers={"Accept": "text/html"},
                                  settings=settings)
            if response.status_code >= 400:
                problem = f"HTTP {response.status_code}"
            else:
                found = next(iter(read_bytes(body, origin=url, kind="html", base_url=url)))
                if isinstance(found, Parsed):
                    page = found
                else:
                    problem = found.reason
        except (httpx.HTTPError, _TooLarge) as e:
            problem = f"{type(e).__name__}: {e}"[:200]
    metadata = dict(article.metadata)
    if page is not None and len(page.article.body) > len(article.body):
        metadata[BODY_FROM] = "page"
        return Parsed(item.origin, article.model_copy(
            update={"body": page.article.body, "metadata": metadata}))
    metadata["full_text_error"] = problem or "the page had no longer text"
    return Parsed(item.origin, article.model_copy(update={"metadata": metadata}))


def _get(client: httpx.Client, url: str, *, headers: dict[str, str],
         settings: Settings) -> tuple[httpx.Response, bytes]:
    """GET with a size cap and a deadline on the whole download, not just each read."""
    deadline = time.monotonic() + settings.feeds.timeout_seconds
    with client.stream("GET", url, headers=headers) as response:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > settings.feeds.max_bytes:
                raise _TooLarge(f"larger than {settings.feeds.max_bytes:,} bytes")
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("download too slow", request=response.request)
            chunks.append(chunk)
    return response, b"".join(chunks)


class Robots:
    """robots.txt per site, cached for an hour; shared by a follower's threads.

    As RFC 9309 says: an unavailable robots.txt (any 4xx) allows everything; one that
    cannot be fetched (5xx, network) allows nothing until it can.
    """

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, RobotFileParser]] = {}
        self._lock = threading.Lock()

    def allowed(self, client: httpx.Client, url: str, *, settings: Settings) -> bool:
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            cached = self._cache.get(site)
        if cached is None or time.monotonic() - cached[0] > _ROBOTS_TTL:
            cached = (time.monotonic(), self._fetch(client, site, settings=settings))
            with self._lock:
                self._cache[site] = cached
        return cached[1].can_fetch(settings.feeds.user_agent, url)

    @staticmethod
    def _fetch(client: httpx.Client, site: str, *, settings: Settings) -> RobotFileParser:
        parser = RobotFileParser(f"{site}/robots.txt")
        try:
            response, body = _get(client, f"{site}/robots.txt", headers={},
                                  settings=settings)
        except (httpx.HTTPError, _TooLarge):
            parser.disallow_all = True  # type: ignore[attr-defined]
            return parser
        if response.status_code >= 500:
            parser.disallow_all = True  # type: ignore[attr-defined]
        elif response.status_code >= 400:
            parser.allow_all = True  # type: ignore[attr-defined]
        else:
            parser.parse(body.decode("utf-8", "replace").splitlines())
        return parser
