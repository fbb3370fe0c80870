"""A guard against Faust skipping messages after a restart or rebalance.

faust-streaming 0.15 can hand a stream a message *past* ones it never delivered: during
table recovery it resumes fetching before it seeks to the committed offsets, and messages
fetched in that window are discarded (upstream issues #216, #221, #606).  Its consumer then
sees the jump and records the missing offsets as a "gap" that counts as acknowledged, so
the next commit moves past articles that were never processed: lost.  We reproduced it by
SIGKILLing a worker mid-stream (tests/integration/test_pipeline.py lost up to a third of
the articles in one run of three).

The guard wraps the consumer's ``getmany``: it remembers, per partition, the next offset it
should see (set by what it yielded and by every seek, committed-offset seeks included);
when a message arrives past it on a stream topic, it seeks back and holds the rest of that
partition's batch, so the skipped messages are fetched again and delivered in order.
Changelog topics are compacted, so gaps there are real and left to Faust.

Faust also throws away what its agents' queues hold when it resumes the flow after a
rebalance (``FlowControlEvent.resume`` clears them), messages fetched after the seek to the
committed offsets included; and on a partition the group never committed it seeks nothing
at all (aiokafka seeks only to offsets above 0).  So the queues' ``clear`` notes the first
offset it drops per partition and the next ``getmany`` seeks back there, and on a
never-committed partition the guard expects the first offset: what was dropped there
outside a queue is fetched again when the partition's next message arrives.  (Seeking such
partitions at once, inside the seek, stalled restarted workers in 2 runs of 7.)  Seen as
alerts never delivered after a worker was SIGKILLed before its first commit on
``news.alerts`` (tests/integration/test_alerts_e2e.py), and as two workers started together
on a fresh group indexing short of the count (tests/integration/test_two_workers.py).

Faust's streams also skip, without a trace, messages fetched in an earlier consumer
generation or while flow control is off; when no further message arrives on such a partition
nothing above notices.  So a watchdog (``_refetch_stalled``) reads a partition again from
its committed offset when it was fetched past that offset and none of its messages is queued
or unacknowledged (or acknowledged and waiting for a commit), on two checks
``_STALL_SECONDS`` apart.  Every stage is idempotent, so a false alarm costs only repeated
work.  Seen as 15 alerts of a never-committed partition never delivered after a SIGKILL
(CI, tests/integration/test_alerts_e2e.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP, Message
from mode.utils.queues import FlowControlQueue

log = logging.getLogger("newsflow.faust")

_getmany = Consumer.getmany
_seek = Consumer.seek
_perform_seek = Consumer.perform_seek
_clear = FlowControlQueue.clear

# Per partition, the first offset a queue clear threw away since the last ``getmany``.
_dropped: dict[TP, int] = {}
_STALL_SECONDS = 5.0


@dataclass
class _Watch:
    """What the stall watchdog saw last: per partition (committed, fetched up to)."""

    checked_at: float = 0.0
    suspects: dict[TP, tuple[int, int]] = field(default_factory=dict)


def _expected(consumer: Any) -> dict[TP, int]:
    return consumer.__dict__.setdefault("_newsflow_next", {})


async def _guarded_getmany(self: Any, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
    expected = _expected(self)
    held: set[TP] = set()
    await _refetch_dropped(self, expected)
    await _refetch_stalled(self, expected)
    async for tp, message in _getmany(self, timeout):
        if tp in held:
            continue
        want = expected.get(tp)
        if want is not None and message.offset > want and not self._is_changelog_tp(tp):
            log.warning("%s[%d]: got offset %d before %d..%d; fetching them again",
                        tp.topic, tp.partition, message.offset, want, message.offset - 1)
            held.add(tp)
            await self.seek(tp, want)
            continue
        expected[tp] = max(want or 0, message.offset + 1)
        yield tp, message


async def _refetch_dropped(consumer: Any, expected: dict[TP, int]) -> None:
    """Seek back to what a queue clear threw away, on the partitions this worker still has.

    Never past the offset the guard expects next: after a seek to the committed offset the
    cleared messages may be older fetches from further on.  Partitions given away are
    another worker's, read from their committed offsets.
    """
    if not _dropped:
        return
    dropped = dict(_dropped)
    _dropped.clear()
    assigned = consumer.assignment()
    for tp, first in dropped.items():
        if tp in assigned and not consumer._is_changelog_tp(tp):
            offset = min(first, expected.get(tp, first))
            log.warning("%s[%d]: messages from offset %d dropped in a rebalance; "
                        "fetching them again", tp.topic, tp.partition, offset)
            await consumer.seek(tp, offset)


async def _refetch_stalled(consumer: Any, expected: dict[TP, int]) -> None:
    """Seek back partitions fetched past their committed offset that no stream works on."""
    watch: _Watch = consumer.__dict__.setdefault("_newsflow_watch", _Watch())
    now = time.monotonic()
    if now - watch.checked_at < _STALL_SECONDS:
        return
    watch.checked_at = now
    app = consumer.app
    # A commit under way (one hangs while the broker is down) has not moved
    # ``_committed_offset`` yet for what was processed.
    if (app.rebalancing or getattr(app, "in_recovery", False) or not consumer.flow_active
            or consumer._commit_fut is not None):
        watch.suspects.clear()
        return
    busy = {message.tp for message in list(consumer._unacked_messages)} | _queued(app)
    tps = [tp for tp in consumer.assignment() if tp not in busy
           and app.topics.acks_enabled_for(tp.topic) and not consumer._is_changelog_tp(tp)]
    positions = await asyncio.gather(*(_position(consumer, tp) for tp in tps))
    suspects: dict[TP, tuple[int, int]] = {}
    for tp, position in zip(tps, positions, strict=True):
        fetched = max(expected.get(tp, 0), position or 0)
        committed = consumer._committed_offset.get(tp)
        if committed is None or committed < 0:
            if not fetched:
                continue
            committed = (await consumer.earliest_offsets(tp))[tp]
        acked = consumer._acked.get(tp)
        waits_for_commit = bool(acked) and min(acked) <= committed  # processed from there on
        if fetched > committed and not waits_for_commit:
            suspects[tp] = (committed, fetched)
    for tp, (committed, fetched) in suspects.items():
        if watch.suspects.get(tp) == (committed, fetched):
            log.warning("%s[%d]: offsets %d..%d were fetched but never processed; "
                        "fetching them again", tp.topic, tp.partition, committed, fetched - 1)
            await consumer.seek(tp, committed)
    watch.suspects = {tp: span for tp, span in suspects.items()
                      if watch.suspects.get(tp) != span}


async def _position(consumer: Any, tp: TP) -> int | None:
    """The consumer's next fetch offset; None while it has none (a reset under way)."""
    try:
        return await asyncio.wait_for(consumer.position(tp), timeout=1.0)
    except Exception:  # noqa: BLE001 - a timeout or no position yet: nothing to judge
        return None


def _queued(app: Any) -> set[TP]:
    """Partitions with a message waiting in an agent's queue."""
    channels = {channel for channels in app.topics._tp_index.values() for channel in channels}
    return {event.message.tp for channel in channels for event in list(channel.queue._queue)}


def _noting_clear(self: Any) -> None:
    for item in self._queue:
        message = getattr(item, "message", None)
        if isinstance(message, Message):
            _dropped[message.tp] = min(message.offset, _dropped.get(message.tp, message.offset))
    _clear(self)


async def _tracked_seek(self: Any, partition: TP, offset: int) -> None:
    await _seek(self, partition, offset)
    _expected(self)[partition] = offset


async def _tracked_perform_seek(self: Any) -> None:
    await _perform_seek(self)
    expected = _expected(self)
    expected.clear()
    committed: Mapping[TP, int | None] = self._committed_offset
    expected.update({tp: off for tp, off in committed.items() if off is not None and off >= 0})
    # Faust seeks no partition the group never committed (aiokafka seeks only to offsets
    # above 0), so there the next offset to see is the partition's first.
    never = [tp for tp in self.assignment()
             if not self._is_changelog_tp(tp) and not committed.get(tp)]
    if never:
        expected.update(await self.earliest_offsets(*never))


def install() -> None:
    """Patch Faust's consumer once; idempotent."""
    if Consumer.getmany is not _guarded_getmany:
        Consumer.getmany = _guarded_getmany  # type: ignore[method-assign]  # the patch itself
        Consumer.seek = _tracked_seek  # type: ignore[method-assign]  # the patch itself
        Consumer.perform_seek = _tracked_perform_seek  # type: ignore[method-assign]  # the patch itself
        FlowControlQueue.clear = _noting_clear  # type: ignore[method-assign]  # the patch itself
