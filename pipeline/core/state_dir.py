"""A worker's local state directory, held for the life of the process.

Workers on one host share ``<state dir>/<consumer group>``; each holds one subdirectory,
its *slot*, with an exclusive ``flock`` on ``<slot>.lock``.  The kernel drops the lock when
the process ends, however it ends, so a worker restarted after a crash finds its slot (the
lowest one free: ``w0``, ``w1``, ...) and the tables it left there.  The slot's name is
also the worker's identity in the consumer group (static membership), so the restart takes
back the dead worker's partitions without a rebalance of the others.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pipeline.core.errors import NewsflowError

_MAX_SLOTS = 256


class StateDirBusy(NewsflowError):
    """Every slot asked for is held by a running worker."""


@dataclass(frozen=True)
class StateSlot:
    name: str
    path: Path
    _lock: IO[str] = field(repr=False)

    def release(self) -> None:
        self._lock.close()


def claim(root: Path, *, name: str | None = None) -> StateSlot:
    """Hold the slot ``name``, or the first free one; create its directory.

    Raises:
        StateDirBusy: ``name`` (or every slot) is held by another running worker.
    """
    root.mkdir(parents=True, exist_ok=True)
    for candidate in [name] if name else (f"w{i}" for i in range(_MAX_SLOTS)):
        lock = (root / f"{candidate}.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        path = root / candidate
        path.mkdir(exist_ok=True)
        return StateSlot(candidate, path, lock)
    if name:
        raise StateDirBusy(f"worker id {name!r} is in use by another worker on this host "
                           f"(lock {root / name}.lock); give each worker its own "
                           "NEWSFLOW_WORKER_ID")
    raise StateDirBusy(f"all {_MAX_SLOTS} worker slots in {root} are in use; "
                       "set NEWSFLOW_STATE_DIR to another directory")
