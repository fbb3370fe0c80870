"""`agents.faust_idle`: a batching stream with nothing to read sleeps instead of waking
every batch window (what made an idle worker cost 2-3% of a core).  Batches themselves go
through the same code on the real stack in every integration test."""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from agents import faust_idle


def test_an_idle_stream_waits_once_not_once_per_window() -> None:
    faust_idle.install()

    async def scenario() -> int:
        app = faust.App("t-idle", broker="memory://", store="memory://", web_enabled=False)
        stream = app.stream(app.channel())
        waits = 0
        wait_for_stopped = stream.wait_for_stopped

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal waits
            waits += 1
            return await wait_for_stopped(*args, **kwargs)

        stream.wait_for_stopped = counted  # type: ignore[method-assign]

        async def consume() -> None:
            async for _ in stream.take_events(10, within=0.01):
                pass

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.3)  # thirty windows with nothing in them
        task.cancel()
        return waits

    assert asyncio.run(scenario()) == 1
