"""The real local stack: one Kafka broker and one Elasticsearch node on loopback.

Why this exists: tests and developers need the real services (see DESIGN.md, "Real parts"),
and this machine has no Docker.  Both are fetched from Maven Central with the small pom in
``deploy/local/`` into ``<home>/dist`` (outside the repository), configured from the
templates next to it, and run as plain processes whose pids, data and logs live in
``<home>/stack``.

Versions come from ``deploy/local/pom.xml`` (one place): Apache Kafka 4.4.0 (KRaft, broker
and controller in one JVM) and Elasticsearch 9.3.2 from the ``integ-test-zip``.  That
distribution has no bundled JDK (we run it on Temurin 25 or ``NEWSFLOW_STACK_JAVA_HOME``) and only
four modules: ``apm``, ``transport-netty4``, ``x-pack-core``, ``x-pack-security``.  Security
therefore works (basic auth, ``elastic`` / generated password); everything else that normally
ships as a module is missing -- see ``deploy/local/README.md`` for the list and consequences.

Secured like a production cluster, so every test exercises TLS and authentication: Kafka
accepts only SASL_SSL with SCRAM-SHA-512 and grants per-role ACLs (``acls.py``),
Elasticsearch only HTTPS with its ``elastic`` password.  The CA, server certificates and
every password are generated on first start into ``<home>/stack`` (0700 folders, 0600
files; ``tls/``, ``credentials/``, ``elastic.password``), and ``Settings`` finds them there
when nothing else is configured.

Elasticsearch refuses to run as root, so when invoked as root it runs as an unprivileged
service user that is created on demand and owns a folder of its own (``Layout.es_base``).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.settings import Settings
from pipeline.stack._dist import fetch, find_java
from pipeline.stack._layout import (
    Echo,
    Layout,
    Service,
    StackError,
    layout_for,
    private_dir,
    private_tree,
)
from pipeline.stack._process import port_open, read_pid, stop_pid
from pipeline.stack.elasticsearch import es_ready, start_elasticsearch
from pipeline.stack.kafka import kafka_ready, start_kafka


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    address: str
    ready: bool


def _check_port_free(svc: Service) -> None:
    if port_open(svc.host, svc.port):
        raise StackError(f"port {svc.host}:{svc.port} is taken by a process newsflow did not "
                         f"start; stop it or change the setting for {svc.name}")


@contextmanager
def _locked(lay: Layout) -> Iterator[None]:
    """Serialise ``up``/``down``: several developers or test sessions may call them at once.

    Inside, files are created readable by their owner only (umask 077)."""
    mask = os.umask(0o077)
    try:
        private_dir(lay.stack)
        with (lay.stack / ".lock").open("w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
    finally:
        os.umask(mask)


def up(settings: Settings, echo: Echo = print) -> list[ServiceStatus]:
    """Start whatever is not running; a no-op (same pids) when both already run."""
    lay = layout_for(settings)
    with _locked(lay):
        _up(lay, echo)
    return status(settings)


def _up(lay: Layout, echo: Echo) -> None:
    settings = lay.settings
    private_dir(lay.logs)
    starters = {"kafka": (lay.kafka, start_kafka), "elasticsearch": (lay.elasticsearch,
                                                                     start_elasticsearch)}
    todo = [(svc, start) for svc, start in starters.values() if read_pid(svc) is None]
    if todo:
        for svc, _ in todo:
            _check_port_free(svc)
        private_tree(lay.stack)  # also what an older, unsecured stack left readable
        java = find_java(settings)
        fetch(lay, echo)
        for svc, start in todo:
            t0 = time.monotonic()
            start(lay, java, echo)
            echo(f"{svc.name} ready on {svc.host}:{svc.port} in {time.monotonic() - t0:.0f}s")
    else:
        echo("Stack already running.")


def down(settings: Settings, echo: Echo = print) -> None:
    """Stop, by pid, what ``up`` started: Elasticsearch first, then Kafka."""
    lay = layout_for(settings)
    with _locked(lay):
        _down(lay, echo)


def _down(lay: Layout, echo: Echo) -> None:
    for svc in (lay.elasticsearch, lay.kafka):
        pid = read_pid(svc)
        if pid is None:
            echo(f"{svc.name}: not running")
        else:
            echo(f"Stopping {svc.name} (pid {pid}) ...")
            stop_pid(pid)
        svc.pid_file.unlink(missing_ok=True)


def status(settings: Settings) -> list[ServiceStatus]:
    lay = layout_for(settings)
    kafka, es = lay.kafka, lay.elasticsearch
    return [
        ServiceStatus("kafka", read_pid(kafka), f"{kafka.host}:{kafka.port}",
                      read_pid(kafka) is not None and kafka_ready(settings)),
        ServiceStatus("elasticsearch", read_pid(es), settings.es.url,
                      read_pid(es) is not None and es_ready(settings)),
    ]


def log_files(settings: Settings) -> list[Path]:
    lay = layout_for(settings)
    return [lay.kafka.log_file, lay.elasticsearch.log_file]


def _starter(lay: Layout, name: str) -> tuple[Service, Callable[[Layout, Path, Echo], int]]:
    starters = {"kafka": (lay.kafka, start_kafka),
                "elasticsearch": (lay.elasticsearch, start_elasticsearch)}
    if name not in starters:
        raise StackError(f"unknown service {name!r}; expected one of {sorted(starters)}")
    return starters[name]


def stop_service(settings: Settings, name: str, echo: Echo = print) -> None:
    """Stop one service by pid (the fault suite takes Kafka or Elasticsearch away alone)."""
    lay = layout_for(settings)
    svc, _ = _starter(lay, name)
    with _locked(lay):
        pid = read_pid(svc)
        if pid is not None:
            echo(f"Stopping {svc.name} (pid {pid}) ...")
            stop_pid(pid)
        svc.pid_file.unlink(missing_ok=True)


def start_service(settings: Settings, name: str, echo: Echo = print) -> list[ServiceStatus]:
    """Start one service unless it runs; returns once it is ready, like ``up``."""
    lay = layout_for(settings)
    svc, start = _starter(lay, name)
    with _locked(lay):
        if read_pid(svc) is None:
            _check_port_free(svc)
            private_dir(lay.logs)
            start(lay, find_java(settings), echo)
    return status(settings)
