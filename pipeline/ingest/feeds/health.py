"""Per-feed health, for ``newsflow feeds list`` and ``newsflow status``: read from the
states the followers wrote, so it is right whichever follower owns the feed.

- ``new``: never polled yet; ``ok``: last poll succeeded; ``failing``: the last polls
  failed (``failures`` in a row, ``error`` the last reason);
- ``stale``: its next poll is long overdue — no follower is running for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel

from pipeline.ingest.feeds.book import Feed

Health = Literal["new", "ok", "failing", "stale"]
_STALE_AFTER = timedelta(minutes=5)


class FeedHealth(BaseModel):
    id: str
    url: str
    title: str | None
    health: Health
    last_status: int | None
    last_success_at: AwareDatetime | None
    next_poll_at: AwareDatetime | None
    failures: int
    error: str | None
    published: int
    rejected: int
    full_text: bool
    interval_seconds: float | None


def feed_health(feed: Feed, now: datetime) -> FeedHealth:
    state = feed.state
    health: Health
    if state.next_poll_at is not None and now - state.next_poll_at > _STALE_AFTER:
        health = "stale"
    elif state.last_polled_at is None:
        health = "new"
    elif state.failures:
        health = "failing"
    else:
        health = "ok"
    return FeedHealth(
        id=feed.sub.id, url=str(feed.sub.url), title=feed.sub.title, health=health,
        last_status=state.last_status, last_success_at=state.last_success_at,
        next_poll_at=state.next_poll_at, failures=state.failures, error=state.last_error,
        published=state.published, rejected=state.rejected, full_text=feed.sub.full_text,
        interval_seconds=feed.sub.interval_seconds,
    )
