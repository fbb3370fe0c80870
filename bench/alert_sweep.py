"""One sweep of the alert horizon at steady state: how long it blocks the event loop, and
its CPU.

At 20,000 alerts a day and the 30-day horizon, ``alerts-fired`` holds about 600,000 marks
per worker group.  ``bench/state_fill.py`` writes them into the worker's own tables on disk
(``--dir``, kept between runs: fill once, measure again), spread over the horizon plus one
sweep interval, so a sweep at the fill's time finds one interval's worth expired, as every
sweep at steady state does.  ``--late-days`` sweeps that much later instead (a worker that
was stopped: a backlog to catch up).

Measured in the same run, over the same databases: the sweep as it was, listing every mark
of the table and parsing each (``AlertLedger.expired_marks``, still the path of tables in
memory), against the sweep over the time-ordered index beside the marks
(``agents.deliver.expired_marks``).  A ticker on the loop records the longest time it could
not run (loop blocked), in wall time and in the loop thread's CPU (on a shared machine,
niced, the wall time also counts waiting for a core); CPU is the process's, threads
included.  ``--delete`` then deletes
what the sweep found as the worker does (``agents.deliver.forget_marks``), in a copy of the
tables; each delete's tombstone goes to the producer's buffer, which no broker drains here.

    nice -n 19 ionice -c3 python bench/alert_sweep.py --marks 600000 --dir /tmp/sweep/600k
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from faust.types import TP

from agents.app import app, settings
from bench import state_fill

_TICK = 0.005


async def _timed(label: str, sweep: Callable[[], Awaitable[list[str]]]) -> list[str]:
    longest = busiest = 0.0
    running = True

    async def ticker() -> None:
        nonlocal longest, busiest
        while running:
            before, cpu = time.monotonic(), time.thread_time()
            await asyncio.sleep(_TICK)
            longest = max(longest, time.monotonic() - before - _TICK)
            busiest = max(busiest, time.thread_time() - cpu)

    tick = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.05)
    cpu, wall = time.process_time(), time.monotonic()
    keys = await sweep()
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    running = False
    await tick
    print(f"{label:<28} {len(keys):>7,} marks {wall:7.3f} s wall {cpu:6.3f} s CPU | loop "
          f"blocked at most {longest * 1000:7.1f} ms wall, {busiest * 1000:7.1f} ms CPU",
          flush=True)
    return keys


def _open(directory: Path) -> None:
    state_fill.tables_dir(directory)
    from agents.deliver import fired

    store = state_fill.store(fired)
    started = time.monotonic()
    every = {TP(fired.changelog_topic_name, p) for p in range(settings.topics.partitions)}
    for tp in every:
        store._db_for_partition(tp.partition)
    # A worker that owns every rule: Faust's store iterates the partitions assigned to it.
    app.assignor.assigned_actives = lambda: every  # type: ignore[method-assign]
    print(f"opened {settings.topics.partitions} partition database(s) of alerts-fired in "
          f"{time.monotonic() - started:.2f} s", flush=True)


async def _measure(now: float, horizon: float) -> list[str]:
    from agents import deliver

    every = range(settings.topics.partitions)

    async def before() -> list[str]:
        return deliver.ledger.expired_marks(now=now, horizon_seconds=horizon,
                                            owned=lambda _: True)

    old = await _timed("listing every mark (before)", before)
    new = await _timed("time index (after)",
                       lambda: deliver.expired_marks(every, now=now, horizon=horizon))
    same = sorted(new) == sorted(old)
    print(f"same keys: {same}" + ("" if same else
          f" ({len(set(old) - set(new))} only before, {len(set(new) - set(old))} only "
          f"after: at most {deliver.MARKS_PER_SWEEP:,} per sweep)"))
    return new


async def _delete(keys: list[str], now: float, horizon: float) -> None:
    from agents import deliver

    async def forget() -> list[str]:
        gone = await deliver.forget_marks(keys, now=now, horizon=horizon)
        return keys[:gone]

    await _timed("deleting them", forget)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--marks", type=int, default=600_000)
    parser.add_argument("--dir", type=Path, required=True,
                        help="worker slot directory to fill (or filled by an earlier run)")
    parser.add_argument("--late-days", type=float, default=0.0,
                        help="sweep this long after the fill's time (a backlog)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--delete", action="store_true",
                        help="then delete what expired (in a copy of the tables)")
    args = parser.parse_args()
    horizon = settings.state.alert_horizon_days * 86400
    meta = args.dir / "alert-sweep.json"
    if not meta.exists():
        now = time.time()
        span_days = (horizon + settings.state.sweep_seconds) / 86400
        filled = state_fill.fill(args.dir, articles=0, alerts=args.marks, now=now,
                                 article_days=1, alert_days=span_days, processes=1)
        meta.write_text(json.dumps({"now": now, "marks": args.marks}))
        print(f"filled {filled.alerts:,} marks over {span_days:.4f} days in "
              f"{filled.seconds:.1f} s, {filled.bytes_on_disk / 2**20:.0f} MiB on disk")
    filled_at = json.loads(meta.read_text())
    print(f"{filled_at['marks']:,} marks, horizon {horizon / 86400:g} days, sweep "
          f"{args.late_days:g} days after the fill")
    directory = args.dir
    if args.delete:
        directory = args.dir.with_name(args.dir.name + ".deleting")
        shutil.rmtree(directory, ignore_errors=True)
        shutil.copytree(args.dir, directory)
    _open(directory)
    now = filled_at["now"] + args.late_days * 86400
    for _ in range(args.repeat):
        keys = asyncio.run(_measure(now, horizon))
    if args.delete:
        asyncio.run(_delete(keys, now, horizon))
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
