"""Feed subscriptions and their polling state, as they live on ``news.feeds`` (compacted).

Two records per feed, both in the partition its id hashes to: ``sub:<id>`` (what a person
asked for, written by ``newsflow feeds add``) and ``state:<id>`` (what the follower that
owns the partition learned: validators for conditional GET, when to poll next, failures,
and the ids of entries already published).  Keeping them apart means adding a feed again
never resets its state, and a follower never overwrites a person's settings.  A
tombstone (null value) on both removes the feed.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl


class FeedSubscription(BaseModel):
    """One followed feed, as added by a person."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(description="feed- + digest of the canonical URL.")
    url: HttpUrl
    title: str | None = None
    interval_seconds: float | None = Field(
        default=None, gt=0, description="Poll every so often; None: the follower's default."
    )
    full_text: bool = Field(
        default=False, description="Fetch the article page when an entry carries a teaser."
    )
    added_at: AwareDatetime


class FeedState(BaseModel):
    """What the owning follower knows about one feed; rewritten after every poll."""

    model_config = ConfigDict(extra="ignore")

    id: str
    etag: str | None = None
    last_modified: str | None = None
    next_poll_at: AwareDatetime | None = None
    last_polled_at: AwareDatetime | None = None
    last_success_at: AwareDatetime | None = None
    last_status: int | None = Field(default=None, description="HTTP status of the last poll.")
    last_error: str | None = None
    failures: int = Field(default=0, ge=0, description="Consecutive failed polls.")
    published: int = Field(default=0, ge=0, description="Entries published, in total.")
    rejected: int = Field(default=0, ge=0, description="Entries refused in the last poll.")
    seen: list[str] = Field(
        default_factory=list, description="Article ids already published, oldest first."
    )
    follower: str | None = Field(default=None, description="Who wrote this state.")

    def is_due(self, now: datetime) -> bool:
        return self.next_poll_at is None or self.next_poll_at <= now
