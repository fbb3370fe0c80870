"""``newsflow feeds run``: poll the feeds this follower owns, publish their new entries.

How several followers share the work: they form one consumer group
(``<consumer_group>-feeds``) over ``news.feeds``, whose partitions split the feeds (both
records of a feed live in one partition).  A follower that is given a partition reads it
from the beginning to its end before polling any of its feeds, so it starts from the
state the previous owner left; it commits no offsets, since the compacted topic *is*
the state.  Records that arrive later are read too: subscriptions added or removed
while it runs, and (ignored) its own state coming back.

Exactly once, for each new entry: an entry is published, the broker's acknowledgement
awaited, and only then its id is written to the feed's state (also acknowledged) — all
before the loop returns to ``poll()``, which is the only place where partitions can be
taken away (the eager rebalance protocol revokes there, and the revoke callback first
finishes every poll in flight).  So a restart, a second follower joining or one leaving
never publishes an entry twice.  A follower killed between the two writes publishes
those entries again when the feed is next polled; they carry the same stable ids, so
the pipeline overwrites rather than duplicates.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings
from pipeline.ingest.feeds.book import STATE, FeedBook, feed_partition
from pipeline.ingest.feeds.fetch import PollResult, Robots, http_client, poll_feed
from pipeline.ingest.feeds.schedule import (
    Outcome,
    Policy,
    after_poll,
    host_of,
    next_wakeup,
    pick_due,
)
from pipeline.ingest.feeds.store import check_topic, feeds_producer, write
from pipeline.ingest.publish import encode
from pipeline.operations import metrics

log = logging.getLogger("newsflow.feeds")

_IDLE_POLL_S = 1.0
_BUSY_POLL_S = 0.1
_ACK_TIMEOUT_S = 60.0
_RETRY_S = 2.0


def follower_name() -> str:
    return f"feeds-{socket.gethostname()}-{os.getpid()}"


class Follower:
    """One follower process: owns some partitions of ``news.feeds``, polls their feeds."""

    def __init__(self, settings: Settings, *, stop: threading.Event,
                 name: str | None = None) -> None:
        self.settings = settings
        self.stop = stop
        self.name = name or follower_name()
        self.policy = Policy.from_settings(settings)
        self.book = FeedBook()
        self._loading: dict[TopicPartition, int | None] = {}
        self._owned: set[int] = set()
        self._partitions = 0
        self._in_flight: dict[str, Future[PollResult]] = {}
        self._host_ready: dict[str, datetime] = {}
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None

    # --- the loop ---------------------------------------------------------------------
    def run(self) -> None:
        """Until ``stop`` is set; then finish the polls in flight and leave the group."""
        check_topic(self.settings)
        self._producer = feeds_producer(self.settings)
        self._consumer = KafkaConsumer(
            **client_kwargs(self.settings), group_id=self.settings.feeds_group,
            client_id=self.name, enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
        )
        self._consumer.subscribe([self.settings.topics.feeds], listener=_Listener(self))
        client = http_client(self.settings)
        robots = Robots()
        log.info("feed follower %s: joining group %s on %s", self.name,
                 self.settings.feeds_group, self.settings.topics.feeds)
        with ThreadPoolExecutor(self.settings.feeds.concurrency,
                                thread_name_prefix="feed") as pool:
            try:
                while not self.stop.is_set():
                    try:
                        self._read(self._poll_seconds())
                    except KafkaError as e:  # the client reconnects; polls in flight go on
                        log.warning("feed follower %s: %s; trying again", self.name, e)
                        self.stop.wait(_RETRY_S)
                    self._finish_done()
                    if not self._loading:
                        self._start_due(pool, client, robots)
            finally:
                self.finish_all()
                client.close()
                self._consumer.close()
                self._producer.close(timeout=10)
        log.info("feed follower %s: stopped", self.name)

    def _poll_seconds(self) -> float:
        if self._in_flight or self._loading:
            return _BUSY_POLL_S
        now = datetime.now(UTC)
        return next_wakeup(self.book.feeds(), now, self._host_ready, cap=_IDLE_POLL_S)

    def _read(self, seconds: float) -> None:
        assert self._consumer is not None
        batches = self._consumer.poll(timeout_ms=max(int(seconds * 1000), 10))
        for tp, records in batches.items():
            loading = tp in self._loading
            for record in records:
                self.book.apply(record.key, record.value, states=loading)
        for tp in list(self._loading):
            end = self._loading[tp]
            if end is None:
                end = self._loading[tp] = self._consumer.end_offsets([tp])[tp]
            if self._consumer.position(tp) >= end:
                del self._loading[tp]
                log.info("feed follower %s: partition %d read, %d feeds owned", self.name,
                         tp.partition, len(self.book.subs))
        metrics.FEEDS_OWNED.set(len(self.book.subs))

    def _start_due(self, pool: ThreadPoolExecutor, client: Any, robots: Robots) -> None:
        now = datetime.now(UTC)
        free = self.settings.feeds.concurrency - len(self._in_flight)
        if free <= 0:
            return
        feeds = [f for f in self.book.feeds() if f.sub.id not in self._in_flight]
        busy = {host_of(str(self.book.subs[i].url)) for i in self._in_flight
                if i in self.book.subs}
        for feed in pick_due(feeds, now, busy_hosts=busy, host_ready=self._host_ready,
                             limit=free):
            self._in_flight[feed.sub.id] = pool.submit(
                poll_feed, client, feed, seen=set(feed.state.seen), settings=self.settings,
                robots=robots)

    def _finish_done(self) -> None:
        for ident in [i for i, f in self._in_flight.items() if f.done()]:
            self._finish(ident, self._in_flight.pop(ident))

    def finish_all(self, only: Collection[str] | None = None) -> None:
        """Wait for polls in flight (of ``only`` these feeds) and record their results."""
        for ident in list(self._in_flight):
            if only is None or ident in only:
                self._finish(ident, self._in_flight.pop(ident))

    # --- one poll's result: publish, then remember ------------------------------------
    def _finish(self, ident: str, future: Future[PollResult]) -> None:
        try:
            result = future.result()
        except Exception as e:  # a bug in a poll must not stop the follower
            log.exception("feed %s: poll failed", ident)
            result = PollResult(error=f"{type(e).__name__}: {e}")
        feed = self.book.get(ident)
        now = datetime.now(UTC)
        if feed is None:  # removed while it was being polled
            return
        self._host_ready[host_of(str(feed.sub.url))] = now + timedelta(
            seconds=self.policy.host_delay)
        published, error = self._publish(result)
        outcome = Outcome(
            status=result.status, etag=result.etag, last_modified=result.last_modified,
            error=result.error or error, retry_after=result.retry_after,
            published=published, current=result.current, rejected=len(result.rejected),
        )
        state = after_poll(feed, outcome, now, self.policy, follower=self.name)
        assert self._producer is not None
        try:
            write(self._producer, self.settings, STATE, ident, state).get(timeout=_ACK_TIMEOUT_S)
        except KafkaError as e:
            log.error("feed %s: state not saved (%s); its entries may be published again", ident, e)
        self.book.states[ident] = state
        self._report(feed.sub.url, ident, result, outcome, state)

    def _publish(self, result: PollResult) -> tuple[list[str], str | None]:
        """Publish the new entries; the ids the broker acknowledged, and the first failure."""
        if not result.new:
            return [], None
        assert self._producer is not None
        sends = []
        for ident, item in result.new:
            key, value = encode(item.article)
            sends.append((ident, self._producer.send(self.settings.topics.raw, key=key,
                                                     value=value)))
        self._producer.flush(timeout=_ACK_TIMEOUT_S)
        acked, error = [], None
        for ident, future in sends:
            try:
                future.get(timeout=0)
            except Exception as e:  # not acknowledged: not remembered, tried next poll
                error = error or f"publishing failed: {e}"
            else:
                acked.append(ident)
        return acked, error

    def _report(self, url: object, ident: str, result: PollResult, outcome: Outcome,
                state: Any) -> None:
        label = "error" if not outcome.ok else "not_modified" if result.status == 304 else "ok"
        metrics.observe_feed_poll(
            ident, outcome=label, published=len(outcome.published), rejected=outcome.rejected,
            failures=state.failures,
            last_success=state.last_success_at.timestamp() if state.last_success_at else None)
        wait = (state.next_poll_at - state.last_polled_at).total_seconds()
        if not outcome.ok:
            log.warning("feed %s: failed (%d in a row): %s; next try in %.0fs", url,
                        state.failures, outcome.error, wait)
            return
        refused = ""
        if result.rejected:
            first = result.rejected[0]
            refused = f"; {len(result.rejected)} entries refused, e.g. {first.origin}: " \
                      f"{first.reason}"
        log.info("feed %s: %s, %d new published%s; next poll in %.0fs", url,
                 "not modified" if result.status == 304 else f"HTTP {result.status}",
                 len(outcome.published), refused, wait)

    # --- partitions coming and going --------------------------------------------------
    def assigned(self, partitions: set[TopicPartition]) -> None:
        assert self._consumer is not None
        self._partitions = len(self._consumer.partitions_for_topic(self.settings.topics.feeds)
                               or []) or 1
        new = [tp for tp in partitions if tp.partition not in self._owned]
        if new:
            self._consumer.seek_to_beginning(*new)
        for tp in new:
            self._loading[tp] = None
            self._owned.add(tp.partition)
        log.info("feed follower %s: assigned partitions %s", self.name,
                 sorted(tp.partition for tp in partitions))

    def revoked(self, partitions: set[TopicPartition]) -> None:
        gone = {tp.partition for tp in partitions}
        if not gone:
            return
        self.finish_all()  # every write of a poll in flight lands before the next owner reads
        lost = [i for i in self.book.subs if feed_partition(i, self._partitions) in gone]
        for ident in lost:
            self.book.subs.pop(ident, None)
            self.book.states.pop(ident, None)
        for tp in list(self._loading):
            if tp.partition in gone:
                del self._loading[tp]
        self._owned -= gone
        metrics.forget_feeds(lost, owned=len(self.book.subs))
        log.info("feed follower %s: partitions %s revoked (%d feeds handed over)", self.name,
                 sorted(gone), len(lost))


class _Listener(ConsumerRebalanceListener):
    def __init__(self, follower: Follower) -> None:
        self.follower = follower

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.follower.revoked(set(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.follower.assigned(set(assigned))
