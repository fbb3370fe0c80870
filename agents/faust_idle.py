"""Idle streams that cost nothing: ``Stream.take_events`` sleeps until a message arrives.

Faust's ``take_events(max_, within)`` waits for a full buffer with a timeout of ``within``
in a loop, so an idle stream wakes every ``within`` seconds (0.05-0.1 s here, five
streams) to find its buffer empty; each wake builds and cancels a set of futures.  That
was most of an idle worker's CPU.  This version waits without a timeout while the buffer
is empty, and from the first message on exactly as Faust does: until ``max_`` messages or
``within`` seconds, whichever comes first.  A lone message therefore waits the whole
window instead of what was left of the current one (``within`` at most, as before).

Everything else is faust-streaming 0.15's ``take_events``, kept as it is (acks after the
batch, the buffer lock, the processor that fills the buffer, cleanup in ``finally``).
"""

from __future__ import annotations

import asyncio
from asyncio import CancelledError
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from faust import streams
from faust.types import EventT
from mode import Seconds, want_seconds
from mode.utils.futures import notify

from agents.faust_fixes import FaustIncompatible

_installed = False
# Stream members (of the class) the copy of ``take_events`` calls; it also reads the
# instance attributes ``channel``, ``_processors`` and ``log``.
_USES = ("take_events", "enable_acks", "current_event", "add_processor", "_enable_passive",
         "wait", "wait_for_stopped", "should_stop", "ack", "crash", "loop")


async def _take_events(self: Any, max_: int, within: Seconds) -> AsyncGenerator[
        Sequence[EventT], None]:
    buffer: list[Any] = []
    events: list[EventT] = []
    buffer_full = asyncio.Event()
    buffer_consumed = asyncio.Event()
    started = asyncio.Event()  # the buffer got its first message
    timeout = want_seconds(within) if within else None
    stream_enable_acks: bool = self.enable_acks
    buffer_consuming: asyncio.Future | None = None
    channel_it = aiter(self.channel)

    async def add_to_buffer(value: Any) -> Any:
        try:
            nonlocal buffer_consuming
            if buffer_consuming is not None:
                try:
                    await buffer_consuming
                finally:
                    buffer_consuming = None
            buffer.append(value)
            event = self.current_event
            if event is None:
                raise RuntimeError("Take buffer found current_event is None")
            events.append(event)
            started.set()
            if len(buffer) >= max_:
                buffer_full.set()
                buffer_consumed.clear()
                await self.wait(buffer_consumed)
        except CancelledError:  # pragma: no cover
            raise
        except Exception as exc:
            self.log.exception("Error adding to take buffer: %r", exc)
            await self.crash(exc)
        return value

    self.enable_acks = False
    self.add_processor(add_to_buffer)
    self._enable_passive(channel_it)
    try:
        while not self.should_stop:
            if not buffer:
                started.clear()
                await self.wait_for_stopped(started)  # no timeout: idle is free
                if not buffer:
                    continue  # stopping
            # When stopping, this returns at once and the batch is processed, as in Faust.
            await self.wait_for_stopped(buffer_full, timeout=timeout)
            if buffer:
                buffer_consuming = self.loop.create_future()
                try:
                    yield list(events)
                finally:
                    buffer.clear()
                    for event in events:
                        await self.ack(event)
                    events.clear()
                    notify(buffer_consuming)
                    buffer_full.clear()
                    buffer_consumed.set()
    finally:
        self.enable_acks = stream_enable_acks
        self._processors.remove(add_to_buffer)


def install() -> None:
    """Replace ``Stream.take_events``; idempotent.

    Raises:
        FaustIncompatible: Faust lacks a member this version of ``take_events`` relies on.
    """
    global _installed
    if _installed:
        return
    missing = [name for name in _USES if not hasattr(streams.Stream, name)]
    if not hasattr(streams, "_tracks_buffer_agen"):
        missing.append("faust.streams._tracks_buffer_agen")
    if missing:
        raise FaustIncompatible(
            f"Stream lacks {', '.join(missing)}, which agents/faust_idle.py relies on; "
            "install the versions pyproject.toml pins or update agents/faust_idle.py")
    # the class's method, replaced for the whole process (as faust_fixes does)
    streams.Stream.take_events = streams._tracks_buffer_agen(  # type: ignore[method-assign]
        _take_events)
    _installed = True
