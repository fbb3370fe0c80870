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
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

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


def install() -> None:
    """Patch Faust's consumer once; idempotent."""
    if Consumer.getmany is not _guarded_getmany:
        Consumer.getmany = _guarded_getmany  # type: ignore[method-assign]
        Consumer.seek = _tracked_seek  # type: ignore[method-assign]
        Consumer.perform_seek = _tracked_perform_seek  # type: ignore[method-assign]
