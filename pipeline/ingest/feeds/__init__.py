"""Following feeds: subscriptions and polling state on ``news.feeds``, the schedule,
one poll over HTTP, and the follower that ties them to Kafka.

``book``, ``schedule`` and ``opml`` are pure (no network, no broker); ``fetch`` speaks
HTTP only; ``store`` and ``follower`` speak Kafka.
"""

from pipeline.ingest.feeds.book import Feed, FeedBook, feed_id, new_subscription
from pipeline.ingest.feeds.follower import Follower
from pipeline.ingest.feeds.health import FeedHealth, feed_health
from pipeline.ingest.feeds.opml import OpmlError, read_opml
from pipeline.ingest.feeds.store import FeedStoreError, read_book, write_all

__all__ = [
    "Feed",
    "FeedBook",
    "FeedHealth",
    "FeedStoreError",
    "Follower",
    "OpmlError",
    "feed_health",
    "feed_id",
    "new_subscription",
    "read_book",
    "read_opml",
    "write_all",
]
