"""The feeds as ``news.feeds`` holds them: record keys, partitions, and the book of
subscriptions and states rebuilt from the records (last value per key wins, as compaction
will leave it).

Both records of a feed go to one partition, chosen from the feed's id (not from the
record key), so the follower that owns a partition sees the feed's subscription and its
state together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka.partitioner import murmur2
from pydantic import ValidationError

from pipeline.ingest.ids import canonical_url
from schemas.feeds import FeedState, FeedSubscription

SUB, STATE = "sub:", "state:"


def feed_id(url: str) -> str:
    """The id of the feed at ``url``: stable across spellings of the same address."""
    return "feed-" + hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()[:16]


def feed_partition(ident: str, partitions: int) -> int:
    """The partition of both records of feed ``ident`` (Kafka's own key hash)."""
    return (murmur2(ident.encode("utf-8")) & 0x7FFFFFFF) % partitions


def record_key(kind: str, ident: str) -> bytes:
    return f"{kind}{ident}".encode()


@dataclass
class Feed:
    """A subscription with its state (a fresh state when none was written yet)."""

    sub: FeedSubscription
    state: FeedState


@dataclass
class FeedBook:
    """Subscriptions and states by feed id, built by applying records in topic order."""

    subs: dict[str, FeedSubscription] = field(default_factory=dict)
    states: dict[str, FeedState] = field(default_factory=dict)
    unreadable: int = 0

    def apply(self, key: bytes | None, value: bytes | None, *, states: bool = True) -> None:
        """One record; ``states=False`` takes only subscriptions (an owner's own state
        coming back is older than what it holds in memory)."""
        text = (key or b"").decode("utf-8", "replace")
        if text.startswith(SUB):
            ident = text[len(SUB):]
            if value is None:
                self.subs.pop(ident, None)
                self.states.pop(ident, None)
                return
            try:
                self.subs[ident] = FeedSubscription.model_validate_json(value)
            except ValidationError:
                self.unreadable += 1
        elif text.startswith(STATE) and states:
            ident = text[len(STATE):]
            if value is None:
                self.states.pop(ident, None)
                return
            try:
                self.states[ident] = FeedState.model_validate_json(value)
            except ValidationError:
                self.unreadable += 1

    def feeds(self) -> list[Feed]:
        """Every subscribed feed with its state, in order of addition."""
        return [Feed(sub, self.states.get(ident) or FeedState(id=ident))
                for ident, sub in sorted(self.subs.items(), key=lambda kv: kv[1].added_at)]

    def get(self, ident: str) -> Feed | None:
        sub = self.subs.get(ident)
        return Feed(sub, self.states.get(ident) or FeedState(id=ident)) if sub else None


def new_subscription(url: str, *, title: str | None = None, interval_seconds: float | None = None,
                     full_text: bool = False, now: datetime | None = None) -> FeedSubscription:
    return FeedSubscription(
        id=feed_id(url), url=url, title=title, interval_seconds=interval_seconds,  # type: ignore[arg-type]
        full_text=full_text, added_at=now or datetime.now(UTC),
    )
