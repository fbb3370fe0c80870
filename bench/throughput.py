"""End-to-end throughput and latency of the pipeline against the bare spaCy ceiling.

    python bench/throughput.py [--articles 240] [--workers 1 2] [--latency-articles 80]

For each worker count W, in the same run:
  ceiling   spaCy ``nlp.pipe`` with the same models and components (NER only) on the same
            articles, split across W processes (model loading not timed);
  pipeline  the same articles published to an isolated set of topics and indexed by W
            ``newsflow worker`` processes: first publish → last article searchable.
The ratio pipeline/ceiling is what the pipeline keeps of what spaCy alone could do.
Then, with the largest W, publish→searchable latency (p50/p99) at half the measured rate.
Needs the local stack (``newsflow stack up``); leaves nothing behind.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaProducer  # noqa: E402

from pipeline.kafka_config import client_kwargs  # noqa: E402
from pipeline.setup import create_topics, install_indices  # noqa: E402
from tests.integration.conftest import Namespace  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "us-immigration-2020.jsonl"


def _load(n: int, *, offset: int = 0) -> list[dict]:
    articles = []
    with CORPUS.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i < offset:
                continue
            record = json.loads(line)
            articles.append({"id": f"b{i}", "body": record["body"], "source": record["source"],
                             "published_at": record["published_at"]})
            if len(articles) == n:
                break
    return articles


def _ceiling_worker(texts: list[str], ready: mp.Barrier, out: mp.Queue) -> None:  # type: ignore[type-arg]
    from pipeline.config import Settings
    from pipeline.nlp import MAX_NER_CHARS, load_ner_pipeline

    nlp = load_ner_pipeline(Settings().model_en)
    ready.wait()
    start = time.perf_counter()
    for _ in nlp.pipe((t[:MAX_NER_CHARS] for t in texts), batch_size=32):
        pass
    out.put(time.perf_counter() - start)


def ceiling(texts: list[str], processes: int) -> float:
    """Articles/s of bare NER in ``processes`` processes (wall time of the slowest)."""
    ctx = mp.get_context("spawn")
    ready, out = ctx.Barrier(processes + 1), ctx.Queue()
    shares = [texts[i::processes] for i in range(processes)]
    procs = [ctx.Process(target=_ceiling_worker, args=(s, ready, out)) for s in shares]
    for p in procs:
        p.start()
    ready.wait()
    start = time.perf_counter()
    for _ in procs:
        out.get()
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    return len(texts) / elapsed


def _producer(ns: Namespace) -> KafkaProducer:
    return KafkaProducer(**client_kwargs(ns.settings), acks="all", linger_ms=5,
                         max_request_size=ns.settings.max_message_bytes)


def _warm_up(ns: Namespace, workers: int) -> None:
    """Start workers and wait until each has its models loaded and partitions assigned.

    One article per partition, so every worker's enrichment process has loaded; sent again
    (same ids) every 20 s until all are indexed: what Faust drops while a fresh group forms
    comes back when a later message shows the gap, sooner than ``agents.faust_fixes``'s
    stall watchdog would fetch it.
    """
    for _ in range(workers):
        ns.start_worker()
    producer = _producer(ns)
    partitions = ns.settings.topic_partitions
    deadline = time.monotonic() + 300
    while ns.count() < partitions:
        if time.monotonic() > deadline:
            sys.exit("workers did not start:\n" + ns.logs())
        for p in range(partitions):
            body = f"Warm-up {p}: migrants crossed the border near Tijuana, officials said."
            producer.send(ns.settings.topic_raw, key=f"w{p}".encode(), partition=p,
                          value=json.dumps({"id": f"warm-{p}", "body": body}).encode())
        producer.flush()
        ns.wait_for_count(partitions, timeout=20)


def pipeline_rate(ns: Namespace, articles: list[dict]) -> float:
    base = ns.count()
    payloads = [(a["id"].encode(), json.dumps(a).encode()) for a in articles]
    producer = _producer(ns)
    start = time.perf_counter()
    for key, value in payloads:
        producer.send(ns.settings.topic_raw, key=key, value=value)
    producer.flush()
    target = base + len(articles)
    deadline = time.monotonic() + 60 + 10 * len(articles)
    while ns.count() < target:
        if time.monotonic() > deadline:
            sys.exit(f"stalled: {ns.count() - base}/{len(articles)} indexed; logs:\n{ns.logs()}")
        time.sleep(0.1)
    return len(articles) / (time.perf_counter() - start)


def latencies(ns: Namespace, articles: list[dict], rate: float) -> list[float]:
    """Publish at ``rate`` articles/s; seconds from send to first visible in a search."""
    producer = _producer(ns)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    index = ns.settings.index_articles
    interval = 1.0 / rate
    next_send = time.perf_counter()
    pending = list(articles)
    while pending or len(seen) < len(sent):
        now = time.perf_counter()
        while pending and now >= next_send:
            article = pending.pop(0)
            producer.send(ns.settings.topic_raw, key=article["id"].encode(),
                          value=json.dumps(article).encode())
            producer.flush()
            sent[article["id"]] = time.perf_counter()
            next_send += interval
        waiting = [i for i in sent if i not in seen]
        if waiting:
            hits = ns.es.search(index=index, query={"ids": {"values": waiting}},
                                size=len(waiting), source=False)["hits"]["hits"]
            stamp = time.perf_counter()
            for hit in hits:
                seen[hit["_id"]] = stamp
        time.sleep(0.02)
    return [seen[i] - sent[i] for i in sent]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=240)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--latency-articles", type=int, default=80)
    args = parser.parse_args()

    articles = _load(args.articles)
    texts = [a["body"] for a in articles]
    print(f"{len(articles)} articles from {CORPUS.name}, "
          f"mean {statistics.mean(len(t) for t in texts):,.0f} chars")
    results = {}
    for workers in args.workers:
        bare = ceiling(texts, workers)
        ns = Namespace(f"bench{uuid.uuid4().hex[:6]}", Path("/tmp"))
        try:
            create_topics(ns.settings)
            install_indices(ns.es, ns.settings)
            _warm_up(ns, workers)
            e2e = pipeline_rate(ns, [dict(a, id=f"{a['id']}-w{workers}") for a in articles])
            results[workers] = (bare, e2e)
            print(f"workers={workers}: ceiling {bare:6.2f} articles/s, pipeline {e2e:6.2f} "
                  f"articles/s, ratio {e2e / bare:.2f}")
            if workers == max(args.workers):
                rate = e2e / 2
                sample = _load(args.latency_articles, offset=args.articles)
                lat = latencies(ns, sample, rate)
                print(f"latency at half load ({rate:.2f} articles/s, {len(lat)} articles, "
                      f"{workers} workers): p50 {_pct(lat, 0.5):.2f}s  p99 {_pct(lat, 0.99):.2f}s"
                      f"  max {max(lat):.2f}s")
        finally:
            ns.cleanup()
    if len(results) > 1:
        lo, hi = min(results), max(results)
        print(f"scaling {lo}→{hi} workers: pipeline x{results[hi][1] / results[lo][1]:.2f}, "
              f"ceiling x{results[hi][0] / results[lo][0]:.2f}")


if __name__ == "__main__":
    main()
