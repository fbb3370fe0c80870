"""Detached service processes: start, find by pid file, wait for, stop as a group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from pipeline.stack._layout import Service, StackError


def read_pid(service: Service) -> int | None:
    """The pid from the pid file if that process is alive *and* is still our service.

    Checking the command line guards against a recycled pid after a reboot or crash.
    """
    try:
        pid = int(service.pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid if service.cmdline_marker.encode() in cmdline else None


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def spawn(cmd: list[str], *, log_file: Path, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> int:
    """Start a detached process (own session, so it outlives the CLI and can be killed as a
    group) with stdout and stderr appended to ``log_file`` (0600).  Its umask is 077: what
    the service writes (segments, indices, logs) is readable by its owner only."""
    log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                start_new_session=True, umask=0o077)
    return proc.pid


def stop_pid(pid: int, *, timeout: float = 30.0) -> None:
    """SIGTERM the process group, wait, then SIGKILL it.

    The group matters for Elasticsearch: its launcher JVM forks the server JVM.
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _group_alive(pid):
                return
            time.sleep(0.2)


def _group_alive(pgid: int) -> bool:
    # When the leader is our own child (tests call up and down in one process), reap it,
    # else it lingers as a zombie and the group looks alive forever.
    with suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _alive(pid: int) -> bool:
    """Alive and not a zombie (a child of ours that died stays a zombie until reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_until(ready: Callable[[], bool], *, service: Service, pid: int, timeout: float) -> None:
    """Poll ``ready`` until true; fail fast, pointing at the log, if the process died.

    On timeout the half-started process is stopped, so a failed ``up`` leaves nothing behind.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not _alive(pid):
            raise StackError(f"{service.name} exited during start-up; see {service.log_file}")
        time.sleep(1.0)
    stop_pid(pid)
    service.pid_file.unlink(missing_ok=True)
    raise StackError(f"{service.name} not ready after {timeout:.0f}s; see {service.log_file}")
