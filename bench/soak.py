"""Soak: a steady half-load for a while; does lag stay bounded and memory flat?

    python bench/soak.py [--minutes 10] [--workers 1] [--warmup-minutes 2]

Measures the maximum rate first (a burst, in this run), then publishes corpus articles at
half of it and samples every 10 s: consumer lag on the raw topic (end offsets minus the
group's committed offsets) and the resident memory of each worker's process tree. Prints
the samples and, after warm-up, the maximum lag and memory growth (target: < 10%).
Needs the local stack; uses its own topics and index and removes them afterwards.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaAdminClient, KafkaProducer  # noqa: E402

from bench.corpora import corpus  # noqa: E402
from pipeline.core.kafka_client import client_kwargs  # noqa: E402
from pipeline.operations.offsets import group_offsets  # noqa: E402
from pipeline.operations.setup import create_topics, install_indices  # noqa: E402
from tests.support import Namespace  # noqa: E402

CORPUS = corpus("us-immigration-2020.jsonl")
SAMPLE_EVERY = 10.0


def _articles() -> list[dict]:
    with CORPUS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (the NER child included)."""
    out = subprocess.run(["ps", "-o", "pid=,ppid=,rss=", "-e"], capture_output=True, text=True)
    rows = [tuple(map(int, line.split())) for line in out.stdout.splitlines() if line.strip()]
    tree, total, grew = {pid}, 0, True
    while grew:
        grew = False
        for child, parent, _ in rows:
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    for p, _, rss in rows:
        if p in tree:
            total += rss
    return total


def _lag(ns: Namespace, admin: KafkaAdminClient) -> int:
    """Messages on the raw topic that the group has not committed yet."""
    rows = group_offsets(admin, ns.settings.kafka.consumer_group, [ns.settings.topics.raw])
    return sum(row.end - (row.committed if row.committed is not None else row.start)
               for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--warmup-minutes", type=float, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--burst", type=int, default=80, help="articles to measure max rate")
    args = parser.parse_args()

    corpus = _articles()
    counter = itertools.count()

    def next_article() -> tuple[bytes, bytes]:
        i = next(counter)
        record = corpus[i % len(corpus)]
        article = {"id": f"soak-{i}", "body": record["body"], "source": record["source"],
                   "published_at": record["published_at"]}
        return article["id"].encode(), json.dumps(article).encode()

    ns = Namespace(f"soak{uuid.uuid4().hex[:6]}", Path("/tmp"))
    try:
        create_topics(ns.settings)
        install_indices(ns.es, ns.settings)
        workers = [ns.start_worker() for _ in range(args.workers)]
        producer = KafkaProducer(**client_kwargs(ns.settings), acks="all", linger_ms=5)
        admin = KafkaAdminClient(**client_kwargs(ns.settings))

        for key, value in (next_article() for _ in range(4)):
            producer.send(ns.settings.topics.raw, key=key, value=value)
        producer.flush()
        ns.wait_for_count(4, timeout=300)

        start = time.perf_counter()
        for key, value in (next_article() for _ in range(args.burst)):
            producer.send(ns.settings.topics.raw, key=key, value=value)
        producer.flush()
        ns.wait_for_count(4 + args.burst, timeout=900)
        max_rate = args.burst / (time.perf_counter() - start)
        rate = max_rate / 2
        print(f"max rate {max_rate:.2f} articles/s; soaking at {rate:.2f} articles/s for "
              f"{args.minutes:g} min with {args.workers} worker(s)")
        print(f"{'t (s)':>7} {'sent':>6} {'indexed':>8} {'lag':>5} {'rss MiB':>8}")

        samples: list[tuple[float, int, int]] = []
        t0 = time.perf_counter()
        sent, next_send, next_sample = 0, t0, t0
        while (now := time.perf_counter()) - t0 < args.minutes * 60:
            if now >= next_send:
                key, value = next_article()
                producer.send(ns.settings.topics.raw, key=key, value=value)
                sent += 1
                next_send += 1 / rate
            if now >= next_sample:
                producer.flush()
                lag = _lag(ns, admin)
                rss = sum(_rss_kib(w.pid) for w in workers)
                samples.append((now - t0, lag, rss))
                print(f"{now - t0:7.0f} {sent:6d} {ns.count():8d} {lag:5d} {rss / 1024:8.0f}",
                      flush=True)
                next_sample += SAMPLE_EVERY
            time.sleep(min(0.01, max(0.0, min(next_send, next_sample) - time.perf_counter())))

        warm = [s for s in samples if s[0] >= args.warmup_minutes * 60] or samples
        base_rss, end_rss = warm[0][2], warm[-1][2]
        print(f"after warm-up: max lag {max(s[1] for s in warm)} messages, final lag "
              f"{warm[-1][1]}; memory {base_rss / 1024:.0f} → {end_rss / 1024:.0f} MiB "
              f"({(end_rss - base_rss) / base_rss:+.1%})")
        for w in workers:
            if w.poll() is not None:
                print(f"worker {w.pid} exited with {w.returncode}")
    finally:
        ns.cleanup()


if __name__ == "__main__":
    main()
