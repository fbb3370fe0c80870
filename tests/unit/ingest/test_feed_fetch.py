"""One poll of one feed against a loopback HTTP server: conditional GET, only unseen
entries, failures as one-line errors, bounded time, and full text under robots.txt."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from pipeline.core.settings import Settings
from pipeline.ingest.feeds import Feed, new_subscription
from pipeline.ingest.feeds.fetch import Robots, http_client, poll_feed
from pipeline.ingest.feeds.transport import refusal, trusted_host
from schemas.feeds import FeedState
from tests.support import FeedServer, Route, rss

SETTINGS = Settings().replaced(feeds={"timeout_seconds": 1.0, "teaser_chars": 200,
                                      "allow_private_pages": False})
PAGE = """<html lang="en"><head><title>Shelter opens</title></head><body><article>
<h1>Shelter opens</h1><p>A shelter for families crossing the border opened on Monday in the
old school building, with beds for two hundred people and a kitchen run by volunteers.</p>
<p>Local officials said the building would stay open through the winter months while the
regional government looks for a permanent site closer to the crossing point.</p>
</article></body></html>"""


@pytest.fixture
def server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


def _feed(url: str, **options: object) -> Feed:
    sub = new_subscription(url, **options)  # type: ignore[arg-type]
    return Feed(sub, FeedState(id=sub.id))


def _poll(feed: Feed, seen: set[str] | None = None, settings: Settings = SETTINGS):  # type: ignore[no-untyped-def]
    with http_client(settings) as client:
        return poll_feed(client, feed, seen=seen or set(), settings=settings, robots=Robots())


def test_new_entries_then_304_with_the_validators_sent(server: FeedServer) -> None:
    server.routes["/feed.xml"] = Route(rss("Harbour", [
        ("https://harbour.example.net/a", "A", "Ferry resumes sailing."),
        ("https://harbour.example.net/b", "B", "Boats reach port."),
    ]))
    feed = _feed(server.url("/feed.xml"))
    first = _poll(feed)
    assert first.status == 200 and first.error is None
    assert [item.article.title for _, item in first.new] == ["A", "B"]
    assert first.etag == server.routes["/feed.xml"].etag
    state = feed.state.model_copy(update={"etag": first.etag,
                                          "last_modified": first.last_modified})
    second = _poll(Feed(feed.sub, state))
    assert second.status == 304 and second.new == [] and second.error is None
    sent = server.requests_to("/feed.xml")[-1]
    assert sent["If-None-Match"] == first.etag
    assert sent["If-Modified-Since"] == FeedServer.LAST_MODIFIED


def test_only_unseen_entries_are_new(server: FeedServer) -> None:
    server.routes["/feed.xml"] = Route(rss("Harbour", [
        ("https://harbour.example.net/a", "A", "Ferry resumes sailing."),
        ("https://harbour.example.net/b", "B", "Boats reach port."),
    ]))
    first = _poll(_feed(server.url("/feed.xml")))
    seen = {first.new[0][0]}
    again = _poll(_feed(server.url("/feed.xml")), seen=seen)
    assert [item.article.title for _, item in again.new] == ["B"]
    assert again.current == [ident for ident, _ in first.new]


def test_failures_are_one_line_errors(server: FeedServer) -> None:
    server.routes["/down.xml"] = Route(b"oops", status=503)
    server.routes["/slow.xml"] = Route(rss("Slow", [("https://s.example/a", "A", "x")]),
                                       delay=3.0)
    server.routes["/html.xml"] = Route(b"<html><body>not a feed</body></html>",
                                       content_type="text/html")
    down = _poll(_feed(server.url("/down.xml")))
    assert (down.status, down.error) == (503, "HTTP 503 Service Unavailable")
    slow = _poll(_feed(server.url("/slow.xml")))
    assert slow.error == "timed out after 1s" and slow.new == []
    html = _poll(_feed(server.url("/html.xml")))
    assert html.error is not None and html.error.startswith("not a feed")
    missing = _poll(_feed(server.url("/nothing.xml")))
    assert missing.error == "HTTP 404 Not Found"


def test_json_feed_is_followed(server: FeedServer) -> None:
    server.routes["/feed.json"] = Route(json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "Notes",
        "items": [{"id": "1", "url": "/posts/1", "content_text": "Camp opens near the border."}],
    }).encode(), content_type="application/feed+json")
    result = _poll(_feed(server.url("/feed.json")))
    [(_, item)] = result.new
    assert str(item.article.url) == server.url("/posts/1")


def test_teasers_get_the_page_text_when_robots_allow(server: FeedServer) -> None:
    server.routes["/feed.xml"] = Route(rss("Pages", [
        (server.url("/news/shelter"), "Shelter opens", "A shelter opened."),
        (server.url("/private/memo"), "Memo", "A memo."),
    ]))
    server.routes["/news/shelter"] = Route(PAGE.encode(), content_type="text/html")
    server.routes["/private/memo"] = Route(PAGE.encode(), content_type="text/html")
    server.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n",
                                         content_type="text/plain")
    result = _poll(_feed(server.url("/feed.xml"), full_text=True))
    shelter, memo = (item.article for _, item in result.new)
    assert shelter.metadata["body_from"] == "page"
    assert shelter.body.startswith("A shelter for families") and "winter months" in shelter.body
    assert memo.body == "A memo." and memo.metadata["full_text_error"] == "robots.txt disallows it"
    assert server.count("/private/memo") == 0


def test_pages_on_private_addresses_of_other_hosts_are_refused(server: FeedServer) -> None:
    # The feed is on "localhost"; its entry points at 127.0.0.1 — another host, private.
    server.routes["/feed.xml"] = Route(rss("Pages", [
        (server.url("/news/shelter"), "Shelter opens", "A shelter opened.")]))
    server.routes["/news/shelter"] = Route(PAGE.encode(), content_type="text/html")
    result = _poll(_feed(server.url("/feed.xml", host="localhost"), full_text=True))
    [(_, item)] = result.new
    assert item.article.body == "A shelter opened."
    assert "loopback" in item.article.metadata["full_text_error"]
    assert server.count("/news/shelter") == 0


def test_a_redirect_to_another_private_host_is_not_followed(server: FeedServer) -> None:
    # The feed's own host may be private; where it redirects is vetted on connecting.
    inside = server.url("/inside.xml", host="localhost")
    server.routes["/feed.xml"] = Route(b"", status=302, location=inside)
    server.routes["/inside.xml"] = Route(rss("Inside", [("https://x.example.org/1", "I", "i")]))
    result = _poll(_feed(server.url("/feed.xml")))
    assert result.new == [] and f"{urlsplit(inside).netloc} is loopback" in (result.error or "")
    assert server.count("/feed.xml") == 1 and server.count("/inside.xml") == 0


def test_a_page_name_rebound_to_loopback_after_the_check_is_refused(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # DNS rebinding: the page's name answers a public address first, then 127.0.0.1.
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host: str, port: object, *args: object, **kwargs: object) -> list:
        if host != "news.example.org":
            return real(host, port, *args, **kwargs)  # type: ignore[arg-type]
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    page = server.url("/news/shelter", host="news.example.org")
    server.routes["/feed.xml"] = Route(rss("Pages", [(page, "Shelter opens", "A shelter.")]))
    server.routes["/news/shelter"] = Route(PAGE.encode(), content_type="text/html")
    result = _poll(_feed(server.url("/feed.xml"), full_text=True))
    [(_, item)] = result.new
    assert item.article.body == "A shelter." and item.article.metadata["full_text_error"]
    assert server.count("/robots.txt") == 0 and server.count("/news/shelter") == 0


def test_a_feed_without_full_text_never_fetches_pages(server: FeedServer) -> None:
    server.routes["/feed.xml"] = Route(rss("Pages", [
        (server.url("/news/shelter"), "Shelter opens", "A shelter opened.")]))
    result = _poll(_feed(server.url("/feed.xml")))
    assert [item.article.body for _, item in result.new] == ["A shelter opened."]
    assert server.count("/news/shelter") == 0 and server.count("/robots.txt") == 0


def test_the_feed_host_may_be_private_but_never_a_cloud_metadata_address() -> None:
    # Literals: judged without DNS, so nothing here connects anywhere.
    with trusted_host("10.0.0.5"):
        assert refusal("http://10.0.0.5/feed.xml", allow_private=False) is None
        assert "private" in (refusal("http://10.0.0.6/page", allow_private=False) or "")
    with trusted_host("169.254.169.254"):
        for allow_private in (False, True):
            reason = refusal("http://169.254.169.254/latest/meta-data/",
                             allow_private=allow_private)
            assert reason is not None and "metadata" in reason
