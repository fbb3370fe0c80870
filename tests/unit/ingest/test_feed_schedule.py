"""The follower's pure parts: the book of records, the schedule, backoff, health, OPML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.ingest.feeds import OpmlError, feed_health, feed_id, new_subscription, read_opml
from pipeline.ingest.feeds.book import STATE, SUB, Feed, FeedBook, feed_partition, record_key
from pipeline.ingest.feeds.schedule import (
    Outcome,
    Policy,
    after_poll,
    backoff,
    next_wakeup,
    pick_due,
    remember,
)
from schemas.feeds import FeedState

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
POLICY = Policy(interval=600, backoff_max=3600, host_delay=2, seen_max=10)


def _feed(url: str, *, interval: float | None = None, **state: object) -> Feed:
    sub = new_subscription(url, interval_seconds=interval, now=NOW - timedelta(days=1))
    return Feed(sub, FeedState(id=sub.id, **state))  # type: ignore[arg-type]


def test_feed_id_is_the_same_for_spellings_of_one_address() -> None:
    assert feed_id("https://News.example.org/feed/?utm_source=x") == feed_id(
        "https://news.example.org/feed")
    assert feed_id("https://news.example.org/a") != feed_id("https://news.example.org/b")


def test_both_records_of_a_feed_share_a_partition_and_spread_over_partitions() -> None:
    ids = [feed_id(f"https://site{i}.example.org/rss") for i in range(200)]
    counts = [0] * 4
    for ident in ids:
        counts[feed_partition(ident, 4)] += 1
    assert all(count > 20 for count in counts)


def test_book_keeps_the_last_value_and_tombstones_remove_the_feed() -> None:
    sub = new_subscription("https://a.example.org/rss", now=NOW)
    book = FeedBook()
    book.apply(record_key(SUB, sub.id), sub.model_dump_json().encode())
    for n in (1, 2):
        state = FeedState(id=sub.id, published=n)
        book.apply(record_key(STATE, sub.id), state.model_dump_json().encode())
    book.apply(record_key(STATE, sub.id), FeedState(id=sub.id, published=9)
               .model_dump_json().encode(), states=False)
    book.apply(b"state:junk", b"{not json")
    [feed] = book.feeds()
    assert feed.state.published == 2 and book.unreadable == 1
    book.apply(record_key(SUB, sub.id), None)
    assert book.feeds() == [] and sub.id not in book.states


def test_success_schedules_the_next_poll_and_remembers_what_was_published() -> None:
    feed = _feed("https://a.example.org/rss", interval=60, seen=["a"])
    state = after_poll(feed, Outcome(status=200, etag='"v2"', last_modified="Mon",
                                     published=["b", "c"], current=["a", "b", "c"]),
                       NOW, POLICY)
    assert state.next_poll_at == NOW + timedelta(seconds=60)
    assert (state.etag, state.last_modified, state.seen, state.published) == (
        '"v2"', "Mon", ["a", "b", "c"], 2)
    unchanged = after_poll(Feed(feed.sub, state), Outcome(status=304), NOW, POLICY)
    assert unchanged.etag == '"v2"' and unchanged.seen == ["a", "b", "c"]
    assert unchanged.next_poll_at == NOW + timedelta(seconds=60)


def test_failures_back_off_exponentially_up_to_the_cap_and_honour_retry_after() -> None:
    feed = _feed("https://a.example.org/rss")
    waits = []
    for _ in range(5):
        state = after_poll(feed, Outcome(status=500, error="HTTP 500"), NOW, POLICY)
        waits.append((state.next_poll_at - NOW).total_seconds())
        feed = Feed(feed.sub, state)
    assert waits == [600, 1200, 2400, 3600, 3600]
    assert feed.state.failures == 5 and feed.state.last_error == "HTTP 500"
    assert backoff(1, 10, POLICY, retry_after=120) == 120
    healed = after_poll(feed, Outcome(status=200), NOW, POLICY)
    assert healed.failures == 0 and healed.last_error is None


def test_remember_is_bounded_but_never_below_twice_the_feed() -> None:
    assert remember([str(i) for i in range(10)], ["10", "11"], 3, POLICY) == [
        str(i) for i in range(2, 12)]
    assert len(remember([str(i) for i in range(30)], ["x"], 20, POLICY)) == 31


def test_one_request_per_host_at_a_time_and_rested_hosts_only() -> None:
    a1 = _feed("https://a.example.org/1", next_poll_at=NOW - timedelta(minutes=5))
    a2 = _feed("https://a.example.org/2", next_poll_at=NOW - timedelta(minutes=9))
    b = _feed("https://b.example.org/1")
    c = _feed("https://c.example.org/1", next_poll_at=NOW + timedelta(minutes=1))
    d = _feed("https://d.example.org/1", next_poll_at=NOW - timedelta(minutes=1))
    chosen = pick_due([a1, a2, b, c, d], NOW, busy_hosts=set(),
                      host_ready={"d.example.org": NOW + timedelta(seconds=1)}, limit=10)
    assert [f.sub.url.path for f in chosen] == ["/1", "/2"]
    assert [f.sub.url.host for f in chosen] == ["b.example.org", "a.example.org"]
    assert pick_due([a1, a2], NOW, busy_hosts={"a.example.org"}, host_ready={}, limit=10) == []
    assert next_wakeup([c], NOW, {}, cap=120) == 60
    assert next_wakeup([d], NOW, {"d.example.org": NOW + timedelta(seconds=1)}, cap=5) == 1


def test_health_from_state() -> None:
    assert feed_health(_feed("https://a.example.org/1"), NOW).health == "new"
    ok = _feed("https://a.example.org/1", last_polled_at=NOW, next_poll_at=NOW)
    assert feed_health(ok, NOW).health == "ok"
    failing = _feed("https://a.example.org/1", last_polled_at=NOW, failures=2,
                    last_error="HTTP 503", next_poll_at=NOW + timedelta(minutes=1))
    row = feed_health(failing, NOW)
    assert (row.health, row.error) == ("failing", "HTTP 503")
    stale = _feed("https://a.example.org/1", last_polled_at=NOW - timedelta(hours=2),
                  next_poll_at=NOW - timedelta(hours=1))
    assert feed_health(stale, NOW).health == "stale"


def test_opml_outlines_nested_and_deduplicated(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_text("""<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head>
<body><outline text="Migration"><outline text="One" type="rss" xmlUrl="https://one.example.org/rss"/>
<outline title="Two" xmlUrl="https://two.example.org/atom"/></outline>
<outline text="One again" xmlUrl="https://one.example.org/rss"/><outline text="folder"/>
</body></opml>""")
    assert [(o.url, o.title) for o in read_opml(path)] == [
        ("https://one.example.org/rss", "One"), ("https://two.example.org/atom", "Two")]
    bad = tmp_path / "bad.opml"
    bad.write_text("<rss></rss>")
    with pytest.raises(OpmlError, match="not OPML"):
        read_opml(bad)
