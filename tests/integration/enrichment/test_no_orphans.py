"""A worker killed with SIGKILL takes its NER process (and every other child) with it.

Only the worker's own pid is killed, not its process group: nothing but the child's own
watch on its parent can end it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support import Namespace

pytestmark = pytest.mark.stack

_PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a live process, None once it is gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), fields[0], int(fields[19])


def _children(pid: int) -> dict[int, int]:
    """Direct children of ``pid``: pid -> start time (so a reused pid is not mistaken)."""
    found = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] == pid:
            found[int(entry.name)] = stat[2]
    return found


def _alive(pid: int, started: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z" and stat[2] == started


def _ner_children(worker: int) -> dict[int, int]:
    return {pid: start for pid, start in _children(worker).items()
            if b"spawn_main" in (_PROC / str(pid) / "cmdline").read_bytes()}


def test_sigkilled_worker_leaves_no_ner_process(namespace: Namespace) -> None:
    worker = namespace.start_worker()
    namespace.wait_for_group(1)  # models load before the worker joins: the child is up
    children = _children(worker.pid)
    assert _ner_children(worker.pid), f"no NER child under the worker\n{namespace.logs()}"

    os.kill(worker.pid, signal.SIGKILL)  # the worker only, not its process group
    worker.wait(timeout=30)

    deadline = time.monotonic() + 20
    while (left := [pid for pid, start in children.items() if _alive(pid, start)]):
        assert time.monotonic() < deadline, f"still running after the worker died: {left}"
        time.sleep(0.1)
