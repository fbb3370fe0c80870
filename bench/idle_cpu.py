"""What an idle worker costs: CPU of its main process and NER child over a quiet minute.

    python bench/idle_cpu.py [--seconds 60] [--settle 15]

Starts one ``newsflow worker`` on an isolated, empty namespace, waits until it has joined
its group and indexed one article (so every agent, timer and the rules follower run), lets
it settle, then reads ``/proc`` at the start and end of ``--seconds``: the worker's main
process, its NER child and the Kafka broker.  Kafka is shared with whatever else runs on
the machine, so its figure is an upper bound on what the worker's fetches cost it.
Needs the local stack (``newsflow stack up``); leaves nothing behind.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.processes import cpu_seconds  # noqa: E402
from tests.support import Namespace  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="wait after the worker is ready, before measuring")
    args = parser.parse_args()

    from pipeline.operations.setup import create_topics, install_indices

    with tempfile.TemporaryDirectory() as tmp:
        ns = Namespace(f"idle{uuid.uuid4().hex[:6]}", Path(tmp))
        try:
            create_topics(ns.settings)
            install_indices(ns.es, ns.settings)
            worker = ns.start_worker()
            body = "Warm-up: migrants crossed the border near Tijuana, officials said."
            ns.produce([(b"warm", json.dumps({"id": "warm", "body": body}).encode())])
            if ns.wait_for_count(1, timeout=300) < 1:
                sys.exit("the worker did not index its warm-up article:\n" + ns.logs())
            time.sleep(args.settle)
            before, start = cpu_seconds({worker.pid}), time.monotonic()
            time.sleep(args.seconds)
            after, elapsed = cpu_seconds({worker.pid}), time.monotonic() - start
        finally:
            ns.cleanup()
    print(f"idle worker over {elapsed:.0f}s (% of one core):")
    for part in before:
        print(f"  {part:10s} {100 * (after[part] - before[part]) / elapsed:5.2f}%")


if __name__ == "__main__":
    main()
