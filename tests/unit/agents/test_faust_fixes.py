"""Workarounds for faust-streaming: the guard around a rebalance (real Faust queues, a
stand-in consumer), `agents.app.batches` (acks of a batch cut short) and
`agents.app.overlapping_batches`.

What the stand-in replaces is Faust's consumer thread (assignment, offsets, seeks); the
end-to-end proofs on the real stack are tests/integration/test_alerts_e2e.py (SIGKILL before
the first commit on news.alerts) and tests/integration/test_two_workers.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from types import SimpleNamespace

import pytest
from faust.types import TP, Message
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from agents import faust_fixes

ALERTS = [TP("t.alerts", p) for p in range(3)]
CHANGELOG = TP("t-alerts-fired-changelog", 0)


class _Consumer:
    def __init__(self, *, committed: Mapping[TP, int | None], earliest: Mapping[TP, int],
                 fetched: list[tuple[TP, int]] | None = None) -> None:
        self._committed_offset = dict(committed)
        self._earliest = dict(earliest)
        self.fetched = fetched or []
        self.seeks: list[tuple[TP, int]] = []
        self.positions: dict[TP, int] = {}
        self._unacked_messages: set[Message] = set()
        self._acked: dict[TP, list[int]] = {}
        self._commit_fut: object | None = None  # Faust: a Future while a commit runs
        self.flow_active = True
        self.app = SimpleNamespace(rebalancing=False, in_recovery=False, topics=SimpleNamespace(
            _tp_index={}, acks_enabled_for=lambda topic: True))

    async def position(self, tp: TP) -> int | None:
        return self.positions.get(tp)

    def assignment(self) -> set[TP]:
        return set(self._earliest)

    def _is_changelog_tp(self, tp: TP) -> bool:
        return tp.topic.endswith("-changelog")

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self._earliest[tp] for tp in tps}

    async def seek(self, tp: TP, offset: int) -> None:
        await faust_fixes._tracked_seek(self, tp, offset)


def _message(tp: TP, offset: int) -> Message:
    return Message(tp.topic, tp.partition, offset, 0.0, 0, None, None, b"{}", None, tp=tp)


@pytest.fixture(autouse=True)
def _stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    async def seek(self: _Consumer, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset

    async def getmany(self: _Consumer, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        for tp, offset in self.fetched:
            yield tp, _message(tp, offset)

    async def nothing(self: _Consumer) -> None:
        return None

    monkeypatch.setattr(faust_fixes, "_perform_seek", nothing)
    monkeypatch.setattr(faust_fixes, "_seek", seek)
    monkeypatch.setattr(faust_fixes, "_getmany", getmany)
    monkeypatch.setattr(FlowControlQueue, "clear", faust_fixes._noting_clear)
    faust_fixes._dropped.clear()
    yield
    faust_fixes._dropped.clear()


def _drain(consumer: _Consumer) -> list[tuple[str, int, int]]:
    async def run() -> list[tuple[str, int, int]]:
        return [(tp.topic, tp.partition, m.offset)
                async for tp, m in faust_fixes._guarded_getmany(consumer, 0.1)]
    return asyncio.run(run())


def test_a_never_committed_partition_expects_its_first_offset() -> None:
    consumer = _Consumer(committed={ALERTS[0]: 7, ALERTS[1]: None, CHANGELOG: None},
                         earliest={ALERTS[0]: 0, ALERTS[1]: 0, CHANGELOG: 0},
                         fetched=[(ALERTS[1], 105)])
    asyncio.run(faust_fixes._tracked_perform_seek(consumer))
    assert faust_fixes._expected(consumer) == {ALERTS[0]: 7, ALERTS[1]: 0}

    assert _drain(consumer) == []  # 105 after nothing seen: 0..104 were dropped
    assert consumer.seeks == [(ALERTS[1], 0)]


def test_what_a_queue_clear_drops_is_fetched_again_on_partitions_still_assigned() -> None:
    consumer = _Consumer(committed={ALERTS[0]: 40, ALERTS[1]: 3},
                         earliest={ALERTS[0]: 0, ALERTS[1]: 0})
    asyncio.run(faust_fixes._tracked_perform_seek(consumer))
    faust_fixes._expected(consumer)[ALERTS[1]] = 9  # 3..8 were yielded after the seek

    async def clear_a_queue() -> None:
        queue: FlowControlQueue = FlowControlQueue(
            flow_control=FlowControlEvent(), clear_on_resume=True)
        for tp, offset in [(ALERTS[0], 50), (ALERTS[0], 51), (ALERTS[1], 5),
                           (ALERTS[1], 6), (ALERTS[2], 2)]:
            queue.put_nowait(SimpleNamespace(message=_message(tp, offset)))
        queue.clear()
        assert queue.empty()

    asyncio.run(clear_a_queue())
    _drain(consumer)

    # ALERTS[0]: the cleared 50, 51 came from before the seek to 40: never skip 40..49.
    # ALERTS[2] went to another worker, which reads it from its committed offset.
    assert sorted(consumer.seeks) == [(ALERTS[0], 40), (ALERTS[1], 5)]
    assert faust_fixes._dropped == {}


def test_a_partition_fetched_but_never_processed_is_read_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What a stream skipped (an old generation, flow control off) leaves no trace but this:
    fetched past the committed offset, with nothing of it queued or unacknowledged."""
    monkeypatch.setattr(faust_fixes, "_STALL_SECONDS", 0.0)
    consumer = _Consumer(committed={ALERTS[0]: 7, ALERTS[1]: None, ALERTS[2]: 4, CHANGELOG: 3},
                         earliest={ALERTS[0]: 0, ALERTS[1]: 2, ALERTS[2]: 0, CHANGELOG: 0})
    consumer.positions = {ALERTS[0]: 7, ALERTS[1]: 17, ALERTS[2]: 9, CHANGELOG: 10}
    in_a_batch = _message(ALERTS[2], 4)
    consumer._unacked_messages.add(in_a_batch)
    expected = faust_fixes._expected(consumer)
    expected.update({ALERTS[0]: 7, ALERTS[1]: 17, ALERTS[2]: 9})

    def check() -> list[tuple[TP, int]]:
        asyncio.run(faust_fixes._refetch_stalled(consumer, expected))
        return sorted(consumer.seeks)

    assert check() == []  # a first look only notes the suspects
    assert check() == [(ALERTS[1], 2)]  # never committed: from its first offset
    consumer._unacked_messages.clear()  # ALERTS[2]'s batch is acked, the commit pending
    consumer._acked[ALERTS[2]] = [4, 5, 6, 7, 8]
    assert check() == check() == [(ALERTS[1], 2)]
    consumer._acked[ALERTS[2]] = []
    consumer._commit_fut = object()  # a commit hangs (the broker is down)
    assert check() == check() == [(ALERTS[1], 2)]
    consumer._commit_fut = None
    consumer._committed_offset[ALERTS[2]] = 9  # ... and now it went through
    assert check() == check() == [(ALERTS[1], 2)]


def test_a_batch_cut_short_is_never_acknowledged() -> None:
    """``agents.app.batches``: take_events acks in a ``finally``; an unfinished batch must
    reach it already marked, so Faust's ``Message.ack`` refuses to count it."""
    from agents.app import batches

    tp = ALERTS[0]
    done, cut = ([SimpleNamespace(message=_message(tp, o)) for o in offsets]
                 for offsets in ([0, 1], [2, 3]))
    counted: dict[int, bool] = {}

    class _Stream:
        async def take_events(self, size: int, *, within: float) -> AsyncIterator[list]:
            for batch in (done, cut):
                try:
                    yield batch
                finally:  # what Faust's take_events does, through Stream.ack -> Message.ack
                    for event in batch:
                        counted[event.message.offset] = event.message.ack(None)

    async def agent() -> None:
        stream = batches(_Stream(), 2, within=0.1)  # type: ignore[arg-type]
        async for events in stream:
            if events is cut:
                await stream.aclose()  # the worker stops mid-batch
                return

    asyncio.run(agent())
    assert counted == {0: True, 1: True, 2: False, 3: False}


def test_overlapping_batches_run_two_at_a_time_and_ack_only_what_was_processed() -> None:
    """``agents.app.overlapping_batches``: the second batch is processed while the first
    still is (the first waits for it), and a batch still in process when the worker stops
    is never acknowledged, neither by take_events nor by us."""
    from agents.app import overlapping_batches

    tp = ALERTS[0]
    taken = [[SimpleNamespace(message=_message(tp, o)) for o in offsets]
             for offsets in ([0, 1], [2, 3], [4, 5])]
    acked: dict[int, str] = {}

    class _Stream:
        async def take_events(self, size: int, *, within: float) -> AsyncIterator[list]:
            for batch in taken:
                try:
                    yield batch
                finally:  # what Faust's take_events does, through Stream.ack -> Message.ack
                    for event in batch:
                        if event.message.ack(None):
                            acked[event.message.offset] = "take_events"
            await asyncio.sleep(0.1)  # then the worker stops

        async def ack(self, event: SimpleNamespace) -> None:
            if event.message.ack(None):
                acked[event.message.offset] = "processed"

    async def agent() -> None:
        second_started = asyncio.Event()

        async def process(events: list) -> None:
            first = events[0].message.offset
            if first == 0:
                await second_started.wait()
            elif first == 2:
                second_started.set()
            else:
                await asyncio.Event().wait()  # still in process when the worker stops

        await asyncio.wait_for(
            overlapping_batches(_Stream(), 2, within=0.1, process=process),  # type: ignore[arg-type]
            timeout=5,
        )

    asyncio.run(agent())
    assert acked == {0: "processed", 1: "processed", 2: "processed", 3: "processed"}
