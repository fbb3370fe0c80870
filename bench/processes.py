"""CPU seconds of the pipeline's processes, read from ``/proc``: two readings around a run
say where its CPU went (worker main processes, their NER children, Kafka, Elasticsearch)."""

from __future__ import annotations

import os
from collections.abc import Collection
from functools import cache
from pathlib import Path

from pipeline.core.settings import Settings
from pipeline.stack._layout import layout_for


@cache
def _services() -> dict[tuple[bytes, bytes], str]:
    """(main class, a path of this stack) -> part: another stack on the same host (a second
    home, CI beside a benchmark) is not counted as this one's."""
    lay = layout_for(Settings())
    return {(b"kafka.Kafka", str(lay.kafka_dir).encode()): "kafka",
            (b"org.elasticsearch.bootstrap.Elasticsearch", str(lay.es_base).encode()):
                "elasticsearch"}


def cpu_seconds(worker_pids: Collection[int]) -> dict[str, float]:
    """CPU seconds so far by part: ``worker`` (``worker_pids``), ``ner child`` (their
    children), ``kafka``, ``elasticsearch``."""
    tick = os.sysconf("SC_CLK_TCK")
    services = _services()
    used = dict.fromkeys(("worker", "ner child", *services.values()), 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid in worker_pids:
            part = "worker"
        elif ppid in worker_pids:
            part = "ner child"
        else:
            part = next((name for (main, path), name in services.items()
                         if main in cmdline and path in cmdline), "")
            if not part:
                continue
        used[part] += (int(fields[11]) + int(fields[12])) / tick
    return used
