"""When to poll which feed, and what a poll changes in its state: pure functions of the
state, the clock and the outcome, so they are tested without a network or a broker.

- Each feed has its own interval (its subscription's, else the follower's default).
- A failure backs off exponentially: interval × 2^(failures-1), capped; a ``Retry-After``
  from the server is honoured when it asks for longer.  One success resets it.
- Politeness: one request at a time per host, and ``host_delay`` between the end of one
  and the start of the next; feeds that are due wait for their host.
- The ids of published entries are remembered (bounded, oldest forgotten first, but never
  fewer than twice what the feed currently lists), so an entry is published once even
  when a feed keeps it for weeks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from pipeline.core.settings import Settings
from pipeline.ingest.feeds.book import Feed
from schemas.feeds import FeedState, FeedSubscription

_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class Policy:
    interval: float = 900.0
    backoff_max: float = 6 * 3600.0
    host_delay: float = 2.0
    seen_max: int = 5000

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(interval=settings.feeds.interval_seconds,
                   backoff_max=settings.feeds.backoff_max_seconds,
                   host_delay=settings.feeds.host_delay_seconds,
                   seen_max=settings.feeds.seen_max)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one poll of a feed found (``error`` set when it failed)."""

    status: int | None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    retry_after: float | None = None
    published: list[str] = field(default_factory=list)  # ids acknowledged by the broker
    current: list[str] = field(default_factory=list)  # ids of every entry the feed lists now
    rejected: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def interval_of(sub: FeedSubscription, policy: Policy) -> float:
    return sub.interval_seconds or policy.interval


def backoff(failures: int, interval: float, policy: Policy,
            retry_after: float | None = None) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure."""
    delay = min(interval * 2 ** max(failures - 1, 0), policy.backoff_max)
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.backoff_max))
    return delay


def after_poll(feed: Feed, outcome: Outcome, now: datetime, policy: Policy,
               *, follower: str | None = None) -> FeedState:
    """The feed's state once ``outcome`` is known."""
    state, interval = feed.state, interval_of(feed.sub, policy)
    update: dict[str, object] = {"last_polled_at": now, "last_status": outcome.status,
                                 "follower": follower}
    if outcome.ok:
        update |= {
            "failures": 0, "last_error": None, "last_success_at": now,
            "next_poll_at": now + timedelta(seconds=interval),
            "published": state.published + len(outcome.published),
            "seen": remember(state.seen, outcome.published, len(outcome.current), policy),
        }
        if outcome.status != 304:
            update |= {"etag": outcome.etag, "last_modified": outcome.last_modified,
                       "rejected": outcome.rejected}
    else:
        failures = state.failures + 1
        delay = backoff(failures, interval, policy, outcome.retry_after)
        update |= {
            "failures": failures,
            "last_error": (outcome.error or "")[:_ERROR_CHARS],
            "next_poll_at": now + timedelta(seconds=delay),
            # Entries published before a later step failed are remembered all the same.
            "published": state.published + len(outcome.published),
            "seen": remember(state.seen, outcome.published, len(outcome.current), policy),
        }
    return state.model_copy(update=update)


def remember(seen: list[str], new: Iterable[str], listed: int, policy: Policy) -> list[str]:
    """``seen`` with ``new`` appended, trimmed from the oldest end."""
    known = set(seen)
    merged = seen + [i for i in dict.fromkeys(new) if i not in known]
    cap = max(policy.seen_max, 2 * listed)
    return merged[-cap:]


def pick_due(feeds: Iterable[Feed], now: datetime, *, busy_hosts: set[str],
             host_ready: dict[str, datetime], limit: int) -> list[Feed]:
    """Feeds to poll now: due, their host idle and rested; most overdue first, one per host."""
    due = sorted((f for f in feeds if f.state.is_due(now)),
                 key=lambda f: (f.state.next_poll_at or datetime.min.replace(tzinfo=now.tzinfo),
                                f.sub.added_at))
    chosen: list[Feed] = []
    hosts = set(busy_hosts)
    for feed in due:
        host = host_of(str(feed.sub.url))
        if host in hosts or host_ready.get(host, now) > now:
            continue
        chosen.append(feed)
        hosts.add(host)
        if len(chosen) >= limit:
            break
    return chosen


def next_wakeup(feeds: Iterable[Feed], now: datetime, host_ready: dict[str, datetime],
                *, cap: float) -> float:
    """Seconds until something may be due (at most ``cap``; 0 when something is)."""
    soonest = cap
    for feed in feeds:
        at = feed.state.next_poll_at or now
        at = max(at, host_ready.get(host_of(str(feed.sub.url)), now))
        soonest = min(soonest, max((at - now).total_seconds(), 0.0))
    return soonest
