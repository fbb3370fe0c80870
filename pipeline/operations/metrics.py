"""Every Prometheus metric of newsflow, defined once, and the small helpers agents call.

Agents stay one line per observation (``count("enrich", "out", n)``); names, labels and
buckets are decided here so dashboards do not break when an agent changes.  Metrics live
in the default ``prometheus_client`` registry, which also carries the process collectors
(CPU, memory, open files) that a worker's dashboard wants next to ours.

Several workers on one host each need their own port: set ``NEWSFLOW_METRICS_PORT`` per
worker, or 0 to take a free port (the chosen port is logged).  The lag gauge is the
group's lag as the broker sees it, so every worker of a group reports the same values:
aggregate it with ``max`` across instances, never ``sum``.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger("newsflow.metrics")

# Outcomes of ``newsflow_articles_total``: what came into a stage, what it passed on (or
# wrote, for the index), and what it sent to the dead letters.
IN, OUT, DEAD_LETTER = "in", "out", "dead_letter"

ARTICLES = Counter(
    "newsflow_articles_total",
    "Articles per stage and outcome (in, out, dead_letter).",
    ["stage", "outcome"],
)
NER_SKIPPED = Counter(
    "newsflow_ner_skipped_total",
    "Articles enriched without NER: an exact copy (same cleaned title and body) of an "
    "article enriched before, whose enrichment they reused; by where it was found "
    "(batch, recent, index).",
    ["found_in"],
)
DEAD_LETTERS = Counter(
    "newsflow_dead_letters_total",
    "Messages sent to the dead-letter topic, by stage and machine-readable reason.",
    ["stage", "reason"],
)
BATCH_SIZE = Histogram(
    "newsflow_batch_size",
    "Messages per batch taken from a topic.",
    ["stage"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
BATCH_SECONDS = Histogram(
    "newsflow_batch_seconds",
    "Work time of one batch: for enrich, from looking up exact copies and handing the rest "
    "to the NER process to its results (including any wait behind the batch before it), "
    "the bulk write for index.",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
INDEX_LATENCY = Histogram(
    "newsflow_index_latency_seconds",
    "From the Kafka timestamp of the message on the enriched topic to its document "
    "being accepted by Elasticsearch.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
BULK_SECONDS = Histogram(
    "newsflow_es_bulk_seconds",
    "Duration of one bulk write to Elasticsearch (one attempt), by outcome.",
    ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ALERT_DELIVERIES = Counter(
    "newsflow_alert_deliveries_total",
    "Alert deliveries by channel kind (webhook, slack, email, es) and outcome.",
    ["channel", "outcome"],
)
RULES_DISABLED = Counter(
    "newsflow_alert_rules_disabled_total",
    "Alert rules the match stage switched off, by reason (budget: one article took a rule "
    "past NEWSFLOW_ALERT_RULE_BUDGET_MS).",
    ["reason"],
)
REFETCHES = Counter(
    "newsflow_refetches_total",
    "Partitions read again because Faust dropped or skipped fetched messages (around a "
    "rebalance, mostly): each one is a latency spike on that partition, not a loss.",
    ["reason"],
)
CONSUMER_LAG = Gauge(
    "newsflow_consumer_lag",
    "Messages not yet committed by the consumer group (end offset - committed offset).",
    ["topic", "partition"],
)
LAG_UPDATED = Gauge(
    "newsflow_consumer_lag_updated_timestamp_seconds",
    "When the lag gauge was last refreshed from the broker (Unix time).",
)


def count(stage: str, outcome: str, n: int = 1) -> None:
    """Add ``n`` articles to ``stage``'s ``outcome``; zero is recorded too (the series exists)."""
    ARTICLES.labels(stage=stage, outcome=outcome).inc(n)


def count_ner_skipped(found_in: Mapping[str, int]) -> None:
    """Add the articles that reused an enrichment, by where it was found."""
    for where, n in found_in.items():
        NER_SKIPPED.labels(found_in=where).inc(n)


def dead_lettered(stage: str, reasons: Iterable[str]) -> None:
    """Count one dead letter per reason given (a batch passes all of its reasons)."""
    for reason in reasons:
        DEAD_LETTERS.labels(stage=stage, reason=reason).inc()
        ARTICLES.labels(stage=stage, outcome=DEAD_LETTER).inc()


def observe_batch(stage: str, size: int, seconds: float | None = None) -> None:
    """Record a batch's size and, when given, how long its work took."""
    BATCH_SIZE.labels(stage=stage).observe(size)
    if seconds is not None:
        BATCH_SECONDS.labels(stage=stage).observe(seconds)


@contextmanager
def timed_bulk() -> Iterator[None]:
    """Time one bulk attempt; an exception counts as outcome ``error`` and propagates."""
    start = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        BULK_SECONDS.labels(outcome=outcome).observe(time.perf_counter() - start)


def observe_index_latency(timestamps: Iterable[float], *, now: float | None = None) -> None:
    """Record publish-to-indexed latency for messages with these Kafka timestamps (epoch s).

    Timestamps that are missing (``None``/0) or in the future (clock skew between the
    producer and this host) are skipped rather than recorded as negative latencies.
    """
    now = time.time() if now is None else now
    for stamp in timestamps:
        if stamp and stamp <= now:
            INDEX_LATENCY.observe(now - stamp)


def count_delivery(channel: str, outcome: str) -> None:
    """One alert delivery attempt's result; ``outcome`` is e.g. ok, failed, retried, refused."""
    ALERT_DELIVERIES.labels(channel=channel, outcome=outcome).inc()


def count_deliveries(channels: Iterable[str], failed: Iterable[str]) -> None:
    """One message sent to each of ``channels`` (kinds); those in ``failed`` gave up.

    With two channels of one kind and one failure, one counts ``failed`` and one ``ok``.
    """
    failures = collections.Counter(failed)
    for kind in channels:
        if failures[kind] > 0:
            failures[kind] -= 1
            count_delivery(kind, "failed")
        else:
            count_delivery(kind, "ok")


def set_lag(lags: Iterable[tuple[str, int, int]]) -> None:
    """Replace the lag gauge with ``(topic, partition, lag)`` rows.

    Series for partitions no longer reported are removed, so a deleted topic or a group
    that stopped consuming one does not leave a stale value behind.
    """
    CONSUMER_LAG.clear()
    for topic, partition, lag in lags:
        CONSUMER_LAG.labels(topic=topic, partition=str(partition)).set(lag)
    LAG_UPDATED.set(datetime.now(UTC).timestamp())


def start_metrics_server(port: int, *, addr: str = "127.0.0.1") -> int:
    """Serve ``/metrics`` on ``port`` (0: any free port) in a daemon thread; returns the port."""
    server, _thread = start_http_server(port, addr=addr)
    bound = int(server.server_port)
    log.info("metrics: serving /metrics on %s:%d", addr, bound)
    return bound


# --- feed follower (`newsflow feeds run`) ----------------------------------------------------
FEED_POLLS = Counter(
    "newsflow_feed_polls_total",
    "Feed polls by outcome: ok (200), not_modified (304), error.",
    ["outcome"],
)
FEED_ENTRIES = Counter(
    "newsflow_feed_entries_total",
    "Feed entries by outcome: published (new), rejected (refused by the reader).",
    ["outcome"],
)
FEED_FAILURES = Gauge(
    "newsflow_feed_consecutive_failures",
    "Consecutive failed polls of each feed this follower owns (0 = healthy).",
    ["feed"],
)
FEED_LAST_SUCCESS = Gauge(
    "newsflow_feed_last_success_timestamp_seconds",
    "When each feed this follower owns was last polled successfully (Unix time).",
    ["feed"],
)
FEEDS_OWNED = Gauge("newsflow_feeds_owned", "Feeds this follower currently polls.")


def observe_feed_poll(feed: str, *, outcome: str, published: int, rejected: int,
                      failures: int, last_success: float | None) -> None:
    """One poll of ``feed`` (its id): the counters and the feed's health gauges."""
    FEED_POLLS.labels(outcome=outcome).inc()
    FEED_ENTRIES.labels(outcome="published").inc(published)
    FEED_ENTRIES.labels(outcome="rejected").inc(rejected)
    FEED_FAILURES.labels(feed=feed).set(failures)
    if last_success is not None:
        FEED_LAST_SUCCESS.labels(feed=feed).set(last_success)


def forget_feeds(feeds: Iterable[str], *, owned: int) -> None:
    """Drop the series of feeds this follower no longer owns; set how many it owns."""
    for feed in feeds:
        for gauge in (FEED_FAILURES, FEED_LAST_SUCCESS):
            with suppress(KeyError):
                gauge.remove(feed)
    FEEDS_OWNED.set(owned)


# agents.faust_fixes logs each re-fetch (one warning, "... fetching them again"); its
# message templates say why.  Counting its records keeps that module untouched.
_REFETCH_REASONS = (("dropped in a rebalance", "rebalance_drop"),
                    ("not delivered", "undelivered"),
                    ("never processed", "stalled"), ("before", "gap"))


class RefetchCounter(logging.Filter):
    """Counts ``newsflow_refetches_total`` from the re-fetch warnings of the Faust fixes."""

    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)
        if template.endswith("fetching them again"):
            reason = next((r for text, r in _REFETCH_REASONS if text in template), "other")
            REFETCHES.labels(reason).inc()
        return True
