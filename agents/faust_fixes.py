"""Patches to faust-streaming 0.15 so a rebalance never drops messages or stalls a stream.

Faust hands messages to agents through per-agent queues that ``app.flow_control.resume()``
*clears*.  After table recovery (``Recovery.on_recovery_completed``) it resumes fetching the
stream partitions first, then awaits ``perform_seek`` (seek to committed offsets), and only
then resumes flow control: messages fetched during that await are put in the queues and
thrown away (upstream issues #216, #596, #606).  Where the partition has a committed
offset, a later message reveals the jump; on a fresh group nothing does: ``perform_seek``
only seeks partitions that have a committed offset, so the fetch position stays past the
lost messages and, if no more arrive, that agent waits forever.  That is how two workers
started together stalled: the worker keeping a partition across the first rebalance lost
what it fetched in the window and indexed nothing from it.  Three patches:

* ``Recovery.on_recovery_completed`` resumes the stream partitions *after* the queues are
  cleared, so nothing it fetches can be discarded;
* ``perform_seek`` also positions every stream partition without a committed offset at its
  beginning (what ``auto_offset_reset="earliest"`` means), so messages dropped by the clear
  on revocation are fetched again by whichever worker keeps the partition;
* a guard on ``getmany`` remembers, per partition, the next offset it should see (set by
  what it yielded and by every seek); when a message arrives past it on a stream topic, it
  seeks back and holds the rest of that partition's batch, so skipped messages are fetched
  again and delivered in order instead of being counted as an acknowledged gap and
  committed past (SIGKILL mid-stream lost up to a third of the articles before).
  Changelog topics are compacted, so gaps there are real and left to Faust.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.types import TP, Message

log = logging.getLogger("newsflow.faust")

_getmany = Consumer.getmany
_seek = Consumer.seek
_perform_seek = Consumer.perform_seek


def _expected(consumer: Any) -> dict[TP, int]:
    try:
        return consumer._newsflow_next  # type: ignore[no-any-return]
    except AttributeError:
        consumer._newsflow_next = {}
        return consumer._newsflow_next  # type: ignore[no-any-return]


async def _guarded_getmany(self: Any, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
    expected = _expected(self)
    held: set[TP] = set()
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


async def _tracked_seek(self: Any, partition: TP, offset: int) -> None:
    await _seek(self, partition, offset)
    _expected(self)[partition] = offset


async def _tracked_perform_seek(self: Any) -> None:
    await _perform_seek(self)
    expected = _expected(self)
    expected.clear()
    committed: Mapping[TP, int | None] = self._committed_offset
    expected.update({tp: off for tp, off in committed.items() if off is not None and off >= 0})
    await _rewind_uncommitted(self)


async def _rewind_uncommitted(consumer: Any) -> None:
    """Seek stream partitions that have no committed offset to their first message.

    Kafka's own reset applies only to a partition never read; one this worker read from
    and whose queued messages a rebalance cleared would otherwise resume past them.
    """
    if consumer.app.conf.consumer_auto_offset_reset != "earliest":
        return
    committed: Mapping[TP, int | None] = consumer._committed_offset
    uncommitted = {tp for tp in consumer.assignment()
                   if not consumer._is_changelog_tp(tp) and committed.get(tp) is None}
    if uncommitted:
        for tp, offset in (await consumer.earliest_offsets(*uncommitted)).items():
            await consumer.seek(tp, offset)


async def _on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """Faust 0.15.3's ``Recovery.on_recovery_completed``, stream partitions resumed last.

    Upstream resumes them before ``perform_seek`` and clears the agents' queues after it.
    """
    app = self.app
    consumer = app.consumer
    self.log.info("Restore complete!")
    await app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callbacks = [
        asyncio.ensure_future(table.on_recovery_completed(
            self.actives_for_table[table], self.standbys_for_table[table]))
        for table in self.tables.values()
    ]
    if callbacks:
        await asyncio.wait(callbacks)
    assignment = consumer.assignment()
    if app.consumer_generation_id != generation_id:
        self.log.warning("Recovery rebalancing again app id %s param %s",
                         app.consumer_generation_id, generation_id)
        return
    if assignment:
        self.log.info("Seek stream partitions to committed offsets.")
        await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
    self.completed.set()
    app.flow_control.resume()  # clears every agent's queue: nothing of this generation yet
    consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
    consumer.resume_flow()
    await app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    app.on_rebalance_end()
    self.log.info("Worker ready")


def install() -> None:
    """Patch Faust's consumer and recovery once; idempotent."""
    if Consumer.getmany is not _guarded_getmany:
        Consumer.getmany = _guarded_getmany  # type: ignore[method-assign]
        Consumer.seek = _tracked_seek  # type: ignore[method-assign]
        Consumer.perform_seek = _tracked_perform_seek  # type: ignore[method-assign]
        Recovery.on_recovery_completed = _on_recovery_completed  # type: ignore[method-assign]
