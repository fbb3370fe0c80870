"""``agents.faust_fixes`` on Faust's own classes, and ``agents.app``'s batch helpers.

The consumer is the real one a ``faust.App`` makes with the aiokafka transport, patched
by ``install()``: Faust's own ``getmany``, ``seek``, ``perform_seek``, ``ack`` and
``commit`` run, on its own offsets, acks and queues.  Only what the driver asks of the
broker through its consumer thread (fetch, seek, committed offsets, positions, commit) is
answered by ``_Broker``, an in-memory partition log, since the consumer is never started.
The end-to-end proofs on the real stack are tests/integration/alerts/test_alerts_e2e.py
(SIGKILL before the first commit on news.alerts) and
tests/integration/agents/test_two_workers.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka.structs import ConsumerRecord
from faust.events import Event
from faust.transport.consumer import Consumer
from faust.types import TP, Message
from mode.utils.queues import ThrowableQueue
from typer.testing import CliRunner

from agents import faust_fixes

TOPIC = "t.alerts"
ALERTS = [TP(TOPIC, p) for p in range(3)]


@pytest.fixture(autouse=True)
def _restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test patches Faust afresh; the originals come back afterwards."""
    for owner, name, _ in faust_fixes._PATCHES:  # the originals, as faust_fixes keeps them
        monkeypatch.setattr(owner, name, getattr(faust_fixes, f"_{name}"))
    faust_fixes._dropped.clear()
    yield
    faust_fixes._dropped.clear()


class _Broker:
    """Partition logs and a group's committed offsets, answering the consumer's driver."""

    def __init__(self, logs: Mapping[TP, range], *,
                 committed: Mapping[TP, int] | None = None) -> None:
        self.logs = dict(logs)
        self.committed = dict(committed or {})
        self.assigned = set(self.logs)
        self.positions = {tp: log.start for tp, log in self.logs.items()}
        self.seeks: list[tuple[TP, int]] = []
        self.commits: list[Mapping[TP, int]] = []
        self.commit_started = asyncio.Event()
        self.commit_may_finish = asyncio.Event()
        self.commit_may_finish.set()

    def attach(self, consumer: Consumer, monkeypatch: pytest.MonkeyPatch) -> None:
        answers: dict[str, Callable[..., Any]] = {
            "_getmany": self._getmany, "_seek": self._seek, "_commit": self._commit,
            "seek_to_committed": self._seek_to_committed, "assignment": lambda: self.assigned,
            "earliest_offsets": self._earliest, "position": self._position,
            "highwater": lambda tp: self.logs[tp].stop,
        }
        for name, answer in answers.items():
            monkeypatch.setattr(consumer, name, answer)

    async def _getmany(self, active_partitions: set[TP] | None,
                       timeout: float) -> dict[TP, list[ConsumerRecord]]:
        records = {}
        for tp in sorted(self.assigned & (active_partitions or set())):
            offsets = range(self.positions[tp], self.logs[tp].stop)
            records[tp] = [ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, None, b"{}",
                                          None, 0, 2, []) for offset in offsets]
            self.positions[tp] = self.logs[tp].stop
        return {tp: batch for tp, batch in records.items() if batch}

    async def _seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset

    async def _seek_to_committed(self) -> dict[TP, int | None]:
        for tp in self.assigned:  # like aiokafka: a partition never committed is not moved
            if self.committed.get(tp):
                self.positions[tp] = self.committed[tp]
        return {tp: self.committed.get(tp) for tp in self.assigned}

    async def _earliest(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.logs[tp].start for tp in tps}

    async def _position(self, tp: TP) -> int | None:
        return self.positions.get(tp)

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        self.commit_started.set()
        await self.commit_may_finish.wait()
        self.commits.append(dict(offsets))
        self.committed.update(offsets)
        return True


def _app(name: str) -> faust.App:
    return faust.App(f"test-faust-fixes-{name}", broker="kafka://127.0.0.1:9092",
                     web_enabled=False, store="memory://")


async def _consumer(app: faust.App, broker: _Broker,
                    monkeypatch: pytest.MonkeyPatch) -> Consumer:
    """The app's real consumer, patched, with the broker's partitions assigned to it."""
    faust_fixes.install()
    consumer = app.consumer
    assert isinstance(consumer, Consumer)
    broker.attach(consumer, monkeypatch)
    consumer.resume_partitions(broker.assigned)
    return consumer


async def _fetch(consumer: Consumer) -> list[tuple[TP, int]]:
    """What one ``getmany`` hands the streams."""
    return [(tp, message.offset) async for tp, message in consumer.getmany(0.01)]


def _message(tp: TP, offset: int) -> Message:
    return Message(tp.topic, tp.partition, offset, 0.0, 0, None, None, b"{}", None, tp=tp)


def test_install_patches_the_classes_faust_uses() -> None:
    faust_fixes.install()
    faust_fixes.install()  # idempotent
    app = _app("classes")
    queue = app.FlowControlQueue(maxsize=1, clear_on_resume=True)
    assert type(queue).clear is faust_fixes._noting_clear  # what a channel's queue is
    assert type(app.consumer).getmany is faust_fixes._guarded_getmany
    assert type(app.consumer).seek is faust_fixes._tracked_seek
    assert type(app.consumer).perform_seek is faust_fixes._tracked_perform_seek


def test_a_message_past_a_gap_is_fetched_again_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Faust resumed fetching before its seek to the committed offset and dropped what it
    fetched (3..5): the guard seeks back instead of letting the stream jump to 6."""
    tp = ALERTS[0]

    async def run() -> list[tuple[TP, int]]:
        broker = _Broker({tp: range(0, 10)}, committed={tp: 3})
        consumer = await _consumer(_app("gap"), broker, monkeypatch)
        await consumer.perform_seek()
        broker.positions[tp] = 6  # 3..5 were fetched, then thrown away
        first = await _fetch(consumer)
        assert broker.seeks == [(tp, 3)]
        return first + await _fetch(consumer)

    assert asyncio.run(run()) == [(tp, offset) for offset in range(3, 10)]


def test_a_never_committed_partition_expects_its_first_offset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Faust seeks nothing on a partition the group never committed, so what it fetched
    there before a restart is not read again unless the guard expects the first offset.
    Changelog partitions are compacted: gaps there are real and left to Faust."""

    async def run() -> None:
        app = _app("never")
        table = app.Table("fired", default=str)
        changelog = TP(table.changelog_topic.get_topic_name(), 0)
        broker = _Broker({ALERTS[0]: range(0, 10), ALERTS[1]: range(0, 110),
                          changelog: range(0, 5)}, committed={ALERTS[0]: 7})
        consumer = await _consumer(app, broker, monkeypatch)
        await consumer.perform_seek()
        assert faust_fixes._expected(consumer) == {ALERTS[0]: 7, ALERTS[1]: 0}

        broker.positions.update({ALERTS[0]: 10, ALERTS[1]: 105, changelog: 3})
        # 105 after nothing seen: 0..104 were dropped; the changelog's 3 is taken as it is
        assert await _fetch(consumer) == [(changelog, 3), (changelog, 4)]
        assert broker.seeks == [(ALERTS[1], 0)]
        assert await _fetch(consumer) == [(ALERTS[1], offset) for offset in range(110)]

    asyncio.run(run())


def test_what_a_rebalance_clears_from_an_agent_queue_is_fetched_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Resuming the flow after a rebalance clears the agents' queues (Faust's
    ``FlowControlEvent.resume``); the next ``getmany`` seeks back to the first offset
    dropped, on the partitions this worker still has, never past where it expects."""

    async def run() -> None:
        app = _app("clear")
        broker = _Broker({ALERTS[0]: range(0, 60), ALERTS[1]: range(0, 10)},
                         committed={ALERTS[0]: 40, ALERTS[1]: 3})
        consumer = await _consumer(app, broker, monkeypatch)
        await consumer.perform_seek()
        broker.positions[ALERTS[0]] = 60  # fetched before the seek, now in the queue below
        assert await _fetch(consumer) == [(ALERTS[1], offset) for offset in range(3, 10)]

        queue = app.topic(TOPIC).queue
        for tp, offset in [(ALERTS[0], 50), (ALERTS[0], 51), (ALERTS[1], 5),
                           (ALERTS[1], 6), (ALERTS[2], 2)]:
            queue.put_nowait(Event(app, None, b"{}", {}, _message(tp, offset)))
        app.flow_control.resume()
        assert queue.empty()

        broker.seeks.clear()
        await _fetch(consumer)
        # ALERTS[0]: the cleared 50, 51 came from before the seek to 40: never skip 40..49.
        # ALERTS[2] went to another worker, which reads it from its committed offset.
        assert sorted(broker.seeks) == [(ALERTS[0], 40), (ALERTS[1], 5)]
        assert faust_fixes._dropped == {}

    asyncio.run(run())


def test_what_getmany_fetched_but_did_not_deliver_is_fetched_again_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Faust's ``getmany`` stops a batch halfway when the flow is paused (a rebalance
    starting): the rest was fetched (the position is past it) but never delivered.  The
    guard seeks back to the first undelivered offset when the call ends, not seconds later."""
    tp = ALERTS[0]

    async def run() -> list[tuple[TP, int]]:
        broker = _Broker({tp: range(0, 10)}, committed={tp: 2})
        consumer = await _consumer(_app("undelivered"), broker, monkeypatch)
        await consumer.perform_seek()
        delivered = []
        async for got, message in consumer.getmany(0.01):
            delivered.append((got, message.offset))
            if message.offset == 4:
                consumer.stop_flow()  # what a rebalance does
        assert broker.seeks == [(tp, 5)]  # at once, back to the first one not delivered
        consumer.resume_flow()
        return delivered + await _fetch(consumer)

    assert asyncio.run(run()) == [(tp, offset) for offset in range(2, 10)]


def test_a_partition_fetched_but_never_processed_is_read_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What a stream skipped (an old generation, flow control off) leaves no trace but this:
    fetched past the committed offset, with nothing of it queued, unacknowledged, or
    acknowledged and waiting for a commit, and no commit under way."""
    monkeypatch.setattr(faust_fixes, "_STALL_SECONDS", 0.0)

    async def run() -> None:
        app = _app("stall")
        topic = app.topic(TOPIC)
        app.topics.add(topic)
        await app.topics._update_indices()  # what subscribing does: acks on for the topic
        await app.topics.on_partitions_assigned(set(ALERTS))
        broker = _Broker({ALERTS[0]: range(0, 10), ALERTS[1]: range(2, 20),
                          ALERTS[2]: range(0, 10)}, committed={ALERTS[0]: 7, ALERTS[2]: 4})
        consumer = await _consumer(app, broker, monkeypatch)
        await consumer.perform_seek()
        broker.positions.update({ALERTS[0]: 7, ALERTS[1]: 17, ALERTS[2]: 9})
        batch = [_message(ALERTS[2], offset) for offset in range(4, 9)]
        for message in batch:
            consumer.track_message(message)  # in an agent's hands

        async def check() -> list[tuple[TP, int]]:
            await faust_fixes._refetch_stalled(consumer, faust_fixes._expected(consumer))
            return sorted(broker.seeks)

        assert await check() == []  # a first look only notes the suspects
        assert await check() == [(ALERTS[1], 2)]  # never committed: from its first offset
        for message in batch:
            assert consumer.ack(message)  # processed; the commit is still to come
        assert await check() == await check() == [(ALERTS[1], 2)]

        broker.commit_may_finish.clear()  # a commit hangs (the broker is down)
        committing = asyncio.ensure_future(consumer.commit())
        await broker.commit_started.wait()
        assert await check() == await check() == [(ALERTS[1], 2)]
        broker.commit_may_finish.set()  # ... and now it goes through
        assert await committing
        assert broker.commits == [{ALERTS[2]: 9}]
        assert await check() == await check() == [(ALERTS[1], 2)]

    asyncio.run(run())


def test_install_refuses_when_a_patched_member_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(Consumer, "perform_seek")
    with pytest.raises(faust_fixes.FaustIncompatible,
                       match=r"faust\.transport\.consumer\.Consumer has no perform_seek"):
        faust_fixes.install()
    assert vars(Consumer)["getmany"] is faust_fixes._getmany  # nothing was patched


def test_install_refuses_when_the_kafka_driver_overrides_a_patched_method(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A patch on the base class would never run for the aiokafka driver's consumer."""
    from faust.transport.drivers.aiokafka import Consumer as KafkaConsumer

    monkeypatch.setattr(KafkaConsumer, "seek", Consumer.seek, raising=False)
    with pytest.raises(faust_fixes.FaustIncompatible,
                       match=r"aiokafka\.Consumer overrides Consumer\.seek"):
        faust_fixes.install()


def test_install_refuses_when_an_attribute_it_reads_is_no_longer_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Instance attributes are found where Faust's methods set them on ``self``: here a
    Faust whose consumer keeps its committed offsets under another name."""
    original = Consumer.__init__

    def renamed(self: Consumer, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.app, self._acked, self._unacked_messages = self.app, {}, set()
        self.committed_offsets = {}

    monkeypatch.setattr(Consumer, "__init__", renamed)
    with pytest.raises(faust_fixes.FaustIncompatible,
                       match="Consumer has no _committed_offset, which agents/faust_fixes"):
        faust_fixes.install()


def test_install_refuses_a_member_of_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(ThrowableQueue, "clear")
    with pytest.raises(faust_fixes.FaustIncompatible,
                       match=r"mode\.utils\.queues\.ThrowableQueue has no clear"):
        faust_fixes.install()


def test_the_worker_command_says_so_in_one_line_and_exits_1(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.cli import app

    monkeypatch.delattr(Consumer, "perform_seek")
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: faust-streaming ")
    assert "Consumer has no perform_seek" in lines[0] and "pyproject.toml" in lines[0]


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
