"""``Enricher`` in one child process, awaited from an event loop.

NER takes tens of milliseconds per article; run on the Faust event loop it would stall
consumer heartbeats and every other agent.  The pool keeps one child (models loaded once,
by the initializer) and hands it batches through ``loop.run_in_executor``.  The child is
started with ``spawn``: forking a process that runs an event loop, Kafka clients and
threads copies their locks in whatever state they are.

Articles cross the boundary as JSON strings, not pickled models: pydantic parses JSON in
Rust, and the child and parent never need to agree on more than the schemas.  An enriched
article comes back as ``Enriched``, the JSON the child wrote, which the caller passes on
as it is: parsing it only to write it out again took 8% of a worker's main process.

If the child dies (killed, out of memory), the batch is retried once in a new child and,
if that dies too, article by article, so the article that kills it is the only one that
comes back as an ``EnrichError("worker_crashed", ...)``.

The child never outlives its worker, however the worker dies (``kill -9`` included): it
asks the kernel for SIGKILL when its parent goes (``PR_SET_PDEATHSIG``, Linux), and a
watchdog thread waits on the parent's sentinel pipe, which closes when the parent exits,
for the cases the kernel signal misses (other platforms; the signal is tied to the thread
that spawned the child, so it is only asked for when that thread is the main thread).
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from pipeline.core.errors import NewsflowError
from pipeline.core.settings import Settings
from pipeline.enrichment.enrich import Enricher, EnrichError
from schemas import RawArticle

# What crosses back from the child, per article: ("ok", article id, article JSON) or
# ("error", reason, detail).
_Wire = tuple[str, str, str]


@dataclass(frozen=True)
class Enriched:
    """An enriched article: ``EnrichedArticle`` JSON, written from a validated model."""

    id: str
    json: str


PoolOutcome = Enriched | EnrichError

_child_enricher: Enricher | None = None  # set in the child only, by _init_child


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _init_child(options: dict[str, Any], pdeathsig: bool = False) -> None:
    global _child_enricher
    _die_with_parent(pdeathsig=pdeathsig)
    _child_enricher = Enricher(**options)


def _die_with_parent(*, pdeathsig: bool) -> None:
    """End this process as soon as the process that spawned it is gone."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing child (e.g. the initializer run in-process)
        return
    if pdeathsig and sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent.pid:  # the parent died before the request was in place
            os._exit(1)

    def watch() -> None:
        parent.join()  # returns when the parent's sentinel pipe closes: the parent is gone
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _child_ready() -> bool:
    return _child_enricher is not None


def _enrich_in_child(raws_json: list[str], ingested_at: str) -> list[_Wire]:
    assert _child_enricher is not None, "initializer did not run"
    wire: list[_Wire | None] = [None] * len(raws_json)
    raws: list[RawArticle] = []
    positions: list[int] = []
    for i, text in enumerate(raws_json):
        try:
            raws.append(RawArticle.model_validate_json(text))
            positions.append(i)
        except ValidationError as e:
            wire[i] = ("error", "invalid_raw", " ".join(str(e).split())[:500])
    outcomes = _child_enricher.enrich(raws, ingested_at=datetime.fromisoformat(ingested_at))
    for i, outcome in zip(positions, outcomes, strict=True):
        if isinstance(outcome, EnrichError):
            wire[i] = ("error", outcome.reason, outcome.detail)
        else:
            wire[i] = ("ok", outcome.id, outcome.model_dump_json())
    return [w for w in wire if w is not None]


def _from_wire(item: _Wire) -> PoolOutcome:
    kind, a, b = item
    return Enriched(a, b) if kind == "ok" else EnrichError(a, b)


class EnrichPoolError(NewsflowError, RuntimeError):
    """The child could not start (e.g. a model is missing)."""


class EnrichmentPool:
    """One child process running ``Enricher.enrich``; use ``async with`` or start/close."""

    def __init__(
        self,
        *,
        model_en: str,
        model_es: str,
        batch_size: int = 32,
        prefer_publisher_language: bool = False,
        start_method: str = "spawn",
    ) -> None:
        self._options = {
            "model_en": model_en,
            "model_es": model_es,
            "batch_size": batch_size,
            "prefer_publisher_language": prefer_publisher_language,
        }
        self._context = multiprocessing.get_context(start_method)
        self._executor: ProcessPoolExecutor | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> EnrichmentPool:
        return cls(
            model_en=settings.enrich.model_en,
            model_es=settings.enrich.model_es,
            batch_size=settings.enrich.batch_size,
            **options,
        )

    @property
    def prefer_publisher_language(self) -> bool:
        return bool(self._options["prefer_publisher_language"])

    async def __aenter__(self) -> EnrichmentPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the child and wait until its models are loaded (a few seconds)."""
        self._executor = self._new_executor()
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, _child_ready)
        except BrokenProcessPool as e:
            await self.close()
            raise EnrichPoolError("the enrichment process failed to start") from e

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)

    async def enrich(
        self, raws: Sequence[RawArticle], *, ingested_at: datetime | None = None
    ) -> list[PoolOutcome]:
        """One outcome per input, in order; never raises for a single bad article."""
        if not raws:
            return []
        stamp = (ingested_at or datetime.now(UTC)).isoformat()
        payload = [raw.model_dump_json() for raw in raws]
        for _ in range(2):  # the child may have died before this batch: one fresh try
            try:
                return await self._run(payload, stamp)
            except BrokenProcessPool:
                continue
            except Exception:  # a bug in a step, not one article's fault alone: isolate it
                break
        return [await self._run_one(one, stamp) for one in payload]

    async def _run_one(self, payload: str, stamp: str) -> PoolOutcome:
        try:
            return (await self._run([payload], stamp))[0]
        except BrokenProcessPool:
            return EnrichError("worker_crashed", "the enrichment process died on this article")
        except Exception as e:
            return EnrichError("enrich_failed", " ".join(f"{type(e).__name__}: {e}".split()))

    async def _run(self, payload: list[str], stamp: str) -> list[PoolOutcome]:
        executor = self._executor
        if executor is None:
            raise RuntimeError("EnrichmentPool is not started")
        loop = asyncio.get_running_loop()
        try:
            wire = await loop.run_in_executor(executor, _enrich_in_child, payload, stamp)
        except BrokenProcessPool:
            self._replace(executor)
            raise
        return [_from_wire(item) for item in wire]

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A new child for the next call, unless another call already replaced it."""
        if self._executor is broken:
            self._executor = self._new_executor()
            broken.shutdown(wait=False, cancel_futures=True)

    def _new_executor(self) -> ProcessPoolExecutor:
        # The child is spawned right here (the first submit spawns it), so whether the
        # spawning thread is the main thread is known: PR_SET_PDEATHSIG fires when the
        # spawning *thread* exits, which for any other thread may be long before the worker.
        main = threading.current_thread() is threading.main_thread()
        executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=self._context,
            initializer=_init_child,
            initargs=(self._options, main),
        )
        executor.submit(_child_ready)
        return executor
