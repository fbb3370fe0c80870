"""Workarounds for faust-streaming skipping messages after a restart or rebalance.

Proven on faust-streaming 0.15.3, mode-streaming 0.7.1 and aiokafka 0.14.0, the versions
pyproject.toml pins.  ``install()`` patches, for the whole process:

- ``faust.transport.consumer.Consumer.getmany``, ``._wait_next_records``, ``.seek`` and
  ``.perform_seek``;
- ``mode.utils.queues.ThrowableQueue.clear`` (the queue class of every Faust channel;
  it does not call ``FlowControlQueue.clear``);

and reads these private members: of the consumer ``_is_changelog_tp``,
``_committed_offset``, ``_acked``, ``_unacked_messages``, ``_commit_fut``; of the app
``topics._tp_index`` (the conductor's channels per partition), ``in_recovery``,
``rebalancing``; of a queue ``_queue`` (asyncio's deque).  It refuses to patch, with
``FaustIncompatible`` naming the member, when one of them is missing.

Why.  faust-streaming can hand a stream a message *past* ones it never delivered: during
recovery it resumed fetching before it sought to the committed offsets, and messages
fetched in that window were discarded (upstream #216 and #221, closed, but we still saw
it in 0.15).  Its consumer then sees the jump and records the missing offsets as a "gap"
that counts as acknowledged, so the next commit moves past articles that were never
processed: lost (upstream #606, "Wrong offset commit in case of gaps", open; #596, gaps
from a race in recovery, open).  We reproduced it by SIGKILLing a worker mid-stream
(tests/integration/agents/test_pipeline.py lost up to a third of the articles in one
run of three).

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
``news.alerts`` (tests/integration/alerts/test_alerts_e2e.py), and as two workers started
together on a fresh group indexing short of the count
(tests/integration/agents/test_two_workers.py).  (Until December 2026 the ``clear`` patch
sat on ``FlowControlQueue``, whose ``clear`` Faust's ``ThrowableQueue`` overrides without
calling it: it never ran, and the watchdog below caught those partitions, seconds later.)

Faust's ``getmany`` itself drops records it has fetched: it stops a batch halfway when the
flow is paused or the consumer generation changes (a rebalance), and skips records of
partitions it does not count as active; the consumer's position is past them all the same.
So the guard notes what each fetch returned (``_wait_next_records``) and, when ``getmany``
has delivered less of a partition, seeks it back at once (``_refetch_undelivered``).

Faust's streams also skip, without a trace, messages fetched in an earlier consumer
generation or while flow control is off; when no further message arrives on such a partition
nothing above notices.  So a watchdog (``_refetch_stalled``) reads a partition again from
its committed offset when it was fetched past that offset and none of its messages is queued
or unacknowledged (or acknowledged and waiting for a commit), on two checks
``_STALL_SECONDS`` apart.  Every stage is idempotent, so a false alarm costs only repeated
work.  Seen as 15 alerts of a never-committed partition never delivered after a SIGKILL
(CI, tests/integration/alerts/test_alerts_e2e.py).

When to remove it: when a faust-streaming release fixes #606 and #596 (a gap is never
committed over, queues are not cleared of what was fetched after the seek), drop
``install()`` and check that test_pipeline, test_alerts_e2e, test_two_workers and the
fault suite still deliver every article and alert.  Upgrading Faust before that: re-run
the same tests, then move the pins.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import faust
from faust.transport.conductor import Conductor
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import Consumer as KafkaConsumer
from faust.types import TP, Message
from mode.utils.queues import ThrowableQueue

from pipeline.core.errors import NewsflowError

log = logging.getLogger("newsflow.faust")

_getmany = Consumer.getmany
__wait_next_records = Consumer._wait_next_records  # the original: _<name>, as for the others
_seek = Consumer.seek
_perform_seek = Consumer.perform_seek
_clear = ThrowableQueue.clear

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
    self.__dict__["_newsflow_fetched"] = {}
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
    await _refetch_undelivered(self, expected, held)


async def _noting_wait_next_records(self: Any, timeout: float) -> Any:
    records, active = await __wait_next_records(self, timeout)
    # per partition, the offset after the last record fetched: what getmany should deliver
    self.__dict__["_newsflow_fetched"] = {
        tp: batch[-1].offset + 1 for tp, batch in (records or {}).items() if batch}
    return records, active


async def _refetch_undelivered(consumer: Any, expected: dict[TP, int], held: set[TP]) -> None:
    """Seek back, at once, partitions whose fetched records Faust's ``getmany`` did not all
    deliver: it stops a batch halfway when the flow is paused or the generation changes,
    and skips partitions it does not count as active, while the consumer's position has
    moved past them all.  (Before, the stall watchdog found them 5-10 s later: a latency
    spike at every rebalance.)  A partition this worker no longer holds is left to its
    next owner, who starts from the committed offset."""
    fetched: dict[TP, int] = consumer.__dict__.pop("_newsflow_fetched", {})
    assigned = consumer.assignment()
    for tp, end in fetched.items():
        want = expected.get(tp)
        if (tp in held or want is None or end <= want or tp not in assigned
                or consumer._is_changelog_tp(tp)):
            continue
        log.warning("%s[%d]: offsets %d..%d fetched but not delivered; fetching them again",
                    tp.topic, tp.partition, want, end - 1)
        try:
            await consumer.seek(tp, want)
        except Exception as e:  # noqa: BLE001 - revoked meanwhile: its next owner reads it
            log.info("%s[%d]: not sought back (%s)", tp.topic, tp.partition, e)


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
    if (app.rebalancing or app.in_recovery or not consumer.flow_active
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


class FaustIncompatible(NewsflowError):
    """The installed Faust lacks a member these fixes patch or read."""


PROVEN_ON = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}

# (class, member, replacement): each member must be defined by that very class.
_PATCHES: tuple[tuple[type, str, Callable[..., Any]], ...] = (
    (Consumer, "getmany", _guarded_getmany), (Consumer, "seek", _tracked_seek),
    (Consumer, "perform_seek", _tracked_perform_seek), (ThrowableQueue, "clear", _noting_clear),
    (Consumer, "_wait_next_records", _noting_wait_next_records),
)
# (class, member) read by the code above: the class or a base has it, or one of their
# methods assigns it to ``self`` (an instance attribute).
_READ: tuple[tuple[type, str], ...] = (
    (Consumer, "app"), (Consumer, "assignment"), (Consumer, "position"),
    (Consumer, "earliest_offsets"), (Consumer, "flow_active"), (Consumer, "_is_changelog_tp"),
    (Consumer, "_committed_offset"), (Consumer, "_acked"), (Consumer, "_unacked_messages"),
    (Consumer, "_commit_fut"),
    (faust.App, "rebalancing"), (faust.App, "in_recovery"), (faust.App, "topics"),
    (Conductor, "_tp_index"), (Conductor, "acks_enabled_for"),
    (faust.Channel, "queue"), (ThrowableQueue, "_queue"),
    (Message, "tp"), (Message, "offset"),
)


def install() -> None:
    """Patch Faust's consumer and queues once; idempotent.

    Raises:
        FaustIncompatible: a member the patches replace or read is missing, or the Kafka
            driver's consumer overrides a patched method (the patch would not reach it).
    """
    if Consumer.getmany is _guarded_getmany:
        return
    problem = _incompatibility()
    if problem:
        raise FaustIncompatible(
            f"faust-streaming {_version('faust-streaming')}: {problem}, which "
            f"agents/faust_fixes.py relies on; install the versions pyproject.toml pins "
            f"({_pins()}) or update agents/faust_fixes.py")
    installed = {name: _version(name) for name in PROVEN_ON}
    if installed != PROVEN_ON:
        log.warning("agents.faust_fixes was proven on %s, not on %s", _pins(), ", ".join(
            f"{name}=={v}" for name, v in installed.items()))
    for owner, name, patch in _PATCHES:
        setattr(owner, name, patch)


def _incompatibility() -> str | None:
    """The first member missing or out of the patches' reach, said in a few words."""
    for owner, name, _ in _PATCHES:
        if name not in vars(owner):
            return f"{_qualname(owner)} has no {name}"
    for owner, name in _READ:
        if not _has(owner, name):
            return f"{_qualname(owner)} has no {name}"
    drivers = [k for k in KafkaConsumer.__mro__ if k is not Consumer and issubclass(k, Consumer)]
    for owner, name, _ in _PATCHES:
        overriding = next((k for k in drivers if owner is Consumer and name in vars(k)), None)
        if overriding is not None:
            return f"{_qualname(overriding)} overrides Consumer.{name}"
    return None


def _has(owner: type, name: str) -> bool:
    """A class member, or an instance attribute some method of ``owner`` sets on ``self``."""
    return hasattr(owner, name) or any(
        inspect.isfunction(function) and name in function.__code__.co_names
        and name in _self_stores(function)
        for klass in owner.__mro__ for function in vars(klass).values())


@cache
def _self_stores(function: Callable[..., Any]) -> frozenset[str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):  # no source to read
        return frozenset()
    return frozenset(node.attr for node in ast.walk(tree)
                     if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                     and isinstance(node.value, ast.Name) and node.value.id == "self")


def _qualname(owner: type) -> str:
    return f"{owner.__module__}.{owner.__qualname__}"


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:  # imported from a source checkout
        return "(unknown version)"


def _pins() -> str:
    return ", ".join(f"{name}=={v}" for name, v in PROVEN_ON.items())
