"""End-to-end throughput and latency of the pipeline against the bare spaCy ceiling.

    python bench/throughput.py [--articles 480] [--workers 1 2] [--latency-articles 80]
                               [--mix 0.3 0.1]

For each worker count W, in the same run:
  ceiling   spaCy ``nlp.pipe`` with the same models and components (NER only) on the same
            articles, split across W processes (model loading not timed), measured before
            and after the pipeline and averaged;
  pipeline  the same articles published to an isolated set of topics and indexed by W
            ``newsflow worker`` processes: first publish → last article searchable.
The ratio pipeline/ceiling is what the pipeline keeps of what spaCy alone could do.
With ``--mix EXACT NEAR`` and the largest W, also a stream as a wire service makes it, in
the same workers: of ``--articles`` articles, the fraction EXACT are exact copies and NEAR
near-copies (an outlet's line added above and below) of its other articles (the corpus's
next ones, so nothing in it was seen before), under new ids and sources, each placed at a
random point after its original; against bare NER on the same texts (every copy included).
Then, with the largest W, publish→searchable latency (p50/p99) at half the measured rate,
on articles spread across the same ones (republished under new ids).  Also printed: the
CPU each part used per article, read from ``/proc``, and the ratio the cores would allow
if every one of them were busy.
Needs the local stack (``newsflow stack up``); leaves nothing behind.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaProducer  # noqa: E402
from kafka.partitioner.default import murmur2  # noqa: E402

from bench.corpora import corpus, raw_articles  # noqa: E402
from bench.processes import cpu_seconds  # noqa: E402
from pipeline.core.kafka_client import client_kwargs  # noqa: E402
from pipeline.operations.setup import create_topics, install_indices  # noqa: E402
from tests.support import Namespace  # noqa: E402

CORPUS = corpus("us-immigration-2020.jsonl").name  # checked at start
# How often the throughput run counts the index.  Each count costs Elasticsearch about 5 ms
# of CPU, taken from the pipeline it measures: every 0.1 s that was 4% of the run's CPU.
_POLL_SECONDS = 0.25


def mixed_stream(originals: list[dict], *, total: int, exact: float, near: float,
                 seed: int = 17) -> list[dict]:
    """``total`` articles of which ``exact``/``near`` (fractions) are copies of ``originals``
    (as many of them as the rest), interleaved: each copy at a random point after its own.

    A wire story is republished within minutes to hours by outlets that may change nothing
    (exact) or add their own line above and below the text (near).
    """
    rng = random.Random(seed)
    n_exact, n_near = round(total * exact), round(total * near)
    firsts = originals[: total - n_exact - n_near]
    timed = [(float(i), a) for i, a in enumerate(firsts)]
    for k in range(n_exact + n_near):
        i = rng.randrange(len(firsts))
        source = f"Outlet {k}"
        copy = dict(firsts[i], id=f"{firsts[i]['id']}-copy{k}", source=source)
        if k >= n_exact:
            copy["body"] = (f"From the {source} wire desk.\n\n{copy['body']}\n\n"
                            f"Copyright {source}. All rights reserved.")
        timed.append((rng.uniform(i + 0.5, len(firsts)), copy))
    return [a for _, a in sorted(timed, key=lambda t: t[0])]


def _spread(articles: list[dict], n: int) -> list[dict]:
    """``n`` of ``articles`` taken evenly across them, under new ids: a latency sample as
    long on average as the articles the rate was measured on (the corpus's next articles
    were 3.7k characters on average after the first 480, 10.2k after the first 3,000)."""
    step = max(1, len(articles) // n)
    # A line above the text makes each a new text: exact copies of what was indexed would
    # reuse its enrichment and measure something else than an article's way through.
    return [dict(a, id=f"{a['id']}-lat", body=f"Latency sample {i}.\n\n{a['body']}")
            for i, a in enumerate(articles[::step][:n])]


def _ceiling_worker(texts: list[str], ready: mp.Barrier, out: mp.Queue) -> None:  # type: ignore[type-arg]
    from pipeline.core.settings import Settings
    from pipeline.enrichment.nlp import MAX_NER_CHARS, load_ner_pipeline

    nlp = load_ner_pipeline(Settings().enrich.model_en)
    ready.wait()
    start = time.process_time()
    for _ in nlp.pipe((t[:MAX_NER_CHARS] for t in texts), batch_size=32):
        pass
    out.put(time.process_time() - start)


def ceiling(texts: list[str], processes: int) -> tuple[float, float]:
    """Articles/s of bare NER in ``processes`` processes (wall time of the slowest), and
    the CPU seconds they used."""
    ctx = mp.get_context("spawn")
    ready, out = ctx.Barrier(processes + 1), ctx.Queue()
    shares = [texts[i::processes] for i in range(processes)]
    procs = [ctx.Process(target=_ceiling_worker, args=(s, ready, out)) for s in shares]
    for p in procs:
        p.start()
    ready.wait()
    start = time.perf_counter()
    cpu = sum(out.get() for _ in procs)
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    return len(texts) / elapsed, cpu


def _producer(ns: Namespace) -> KafkaProducer:
    return KafkaProducer(**client_kwargs(ns.settings), acks="all", linger_ms=5,
                         max_request_size=ns.settings.kafka.max_message_bytes)


def _articles_per_worker(ns: Namespace, articles: list[dict]) -> list[int]:
    """How the raw topic's key hashing and the group's assignment split ``articles``.

    Keys are article ids (one article's versions stay in order), so a finite batch splits
    unevenly between workers, and the worker with less to do stands idle at the end; the
    ceiling's processes get equal shares.
    """
    partitions = ns.settings.topics.partitions
    per_partition = Counter((murmur2(a["id"].encode()) & 0x7FFFFFFF) % partitions
                            for a in articles)
    split = []
    for member in ns.group().get("members") or []:
        assignment = member.get("member_assignment") or {}
        split.append(sum(per_partition[p] for a in assignment.get("assigned_partitions", [])
                         if a.get("topic") == ns.settings.topics.raw
                         for p in a.get("partitions", [])))
    return sorted(split, reverse=True)


def _warm_up(ns: Namespace, workers: int) -> list[int]:
    """Start workers; return once they form a stable group and each has indexed an article.

    The timed run must not include a rebalance: the ceiling has none.  One article per
    partition, so every worker's enrichment process has loaded; sent again (same ids) every
    20 s until all are indexed: what Faust drops while a fresh group forms comes back when a
    later message shows the gap, sooner than ``agents.faust_fixes``'s stall watchdog would
    fetch it.
    """
    pids = [ns.start_worker().pid for _ in range(workers)]
    ns.wait_for_group(workers, timeout=300)
    deadline = time.monotonic() + 300
    producer = _producer(ns)
    partitions = ns.settings.topics.partitions
    while ns.count() < partitions:
        if time.monotonic() > deadline:
            sys.exit("workers did not start:\n" + ns.logs())
        for p in range(partitions):
            body = f"Warm-up {p}: migrants crossed the border near Tijuana, officials said."
            producer.send(ns.settings.topics.raw, key=f"w{p}".encode(), partition=p,
                          value=json.dumps({"id": f"warm-{p}", "body": body}).encode())
        producer.flush()
        ns.wait_for_count(partitions, timeout=20)
    ns.wait_for_group(workers, timeout=60)
    return pids


def pipeline_rate(ns: Namespace, articles: list[dict]) -> float:
    base = ns.count()
    payloads = [(a["id"].encode(), json.dumps(a).encode()) for a in articles]
    producer = _producer(ns)
    start = time.perf_counter()
    for key, value in payloads:
        producer.send(ns.settings.topics.raw, key=key, value=value)
    producer.flush()
    target = base + len(articles)
    deadline = time.monotonic() + 60 + 10 * len(articles)
    while ns.count() < target:
        if time.monotonic() > deadline:
            sys.exit(f"stalled: {ns.count() - base}/{len(articles)} indexed; logs:\n{ns.logs()}")
        time.sleep(_POLL_SECONDS)
    return len(articles) / (time.perf_counter() - start)


def latencies(ns: Namespace, articles: list[dict], rate: float,
              on_sent: Callable[[int], None] | None = None) -> list[float]:
    """Publish at ``rate`` articles/s; seconds from send to first visible in a search, in
    the order sent.  ``on_sent(k)`` runs after the k-th send (1-based)."""
    producer = _producer(ns)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    index = ns.settings.index.articles
    interval = 1.0 / rate
    next_send = time.perf_counter()
    pending = list(articles)
    while pending or len(seen) < len(sent):
        now = time.perf_counter()
        while pending and now >= next_send:
            article = pending.pop(0)
            producer.send(ns.settings.topics.raw, key=article["id"].encode(),
                          value=json.dumps(article).encode())
            producer.flush()
            sent[article["id"]] = time.perf_counter()
            next_send += interval
            if on_sent is not None:
                on_sent(len(sent))
        waiting = [i for i in sent if i not in seen]
        if waiting:
            hits = ns.es.search(index=index, query={"ids": {"values": waiting}},
                                size=len(waiting), source=False)["hits"]["hits"]
            stamp = time.perf_counter()
            for hit in hits:
                seen[hit["_id"]] = stamp
        time.sleep(0.02)
    return [seen[i] - sent[i] for i in sent]


def rebalance_latency(articles: list[dict], *, burst: int) -> None:
    """Latency across a rebalance: one worker indexes a stream at half its measured rate and
    a second worker joins after a third of it.  Prints p50/p99 of the articles sent before
    the join, from the join until the group is stable again plus 30 s, and after; and the
    re-fetches the workers logged (``newsflow_refetches_total``)."""
    ns = Namespace(f"bench{uuid.uuid4().hex[:6]}", Path(tempfile.mkdtemp(prefix="newsflow-rb-")))
    try:
        create_topics(ns.settings)
        install_indices(ns.es, ns.settings)
        _warm_up(ns, 1)
        tag = uuid.uuid4().hex[:6]
        rate = pipeline_rate(ns, [dict(a, id=f"{a['id']}-{tag}") for a in articles[:burst]]) / 2
        sample = _spread(articles[burst:], len(articles) - burst)
        join_at = len(sample) // 3
        marks: dict[str, float] = {}

        sent_at: list[float] = []

        def join(k: int) -> None:
            sent_at.append(time.perf_counter())
            if k == join_at:
                marks["join"] = time.perf_counter()
                ns.start_worker()
            elif "join" in marks and "stable" not in marks:
                group = ns.group()
                if group.get("group_state") != "Stable":
                    marks.setdefault("rebalance", time.perf_counter())
                elif len(group.get("members")) == 2:
                    marks.setdefault("rebalance", time.perf_counter())
                    marks["stable"] = time.perf_counter()

        lat = latencies(ns, sample, rate, on_sent=join)
        if "stable" not in marks:
            sys.exit("the second worker never joined while the stream ran: more "
                     "--latency-articles")
        stable = marks["stable"]
        windows: dict[str, list[float]] = {
            "before": [], "second worker starting": [], "rebalance (+30 s)": [], "after": []}
        for at, seconds in zip(sent_at, lat, strict=True):
            key = ("before" if at < marks["join"] else
                   "second worker starting" if at < marks["rebalance"] else
                   "rebalance (+30 s)" if at < stable + 30 else "after")
            windows[key].append(seconds)
        print(f"rebalance: {len(lat)} articles at {rate:.2f}/s (half of one worker's rate), "
              f"a second worker started after {join_at}; the group rebalanced "
              f"{marks['rebalance'] - marks['join']:.0f} s later, stable after "
              f"{stable - marks['rebalance']:.0f} s")
        for name, values in windows.items():
            if values:
                print(f"  {name:24s} {len(values):3d} articles: p50 {_pct(values, 0.5):5.2f}s "
                      f"p99 {_pct(values, 0.99):5.2f}s  max {max(values):5.2f}s")
        print(f"  all {len(lat)}: p99 {_pct(lat, 0.99):.2f}s; re-fetches logged by the "
              f"workers: {ns.log_lines('fetching them again')}")
    finally:
        ns.cleanup()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _reused(ns: Namespace, ids: list[str]) -> int:
    """How many of ``ids`` were indexed as exact copies that skipped NER."""
    ns.es.indices.refresh(index=ns.settings.index.articles)
    return int(ns.es.count(index=ns.settings.index.articles, query={"bool": {"filter": [
        {"ids": {"values": ids}}, {"exists": {"field": "enrichment_of"}}]}})["count"])


def _ratio_line(name: str, before: tuple[float, float], after: tuple[float, float],
                e2e: float) -> str:
    bare = (before[0] + after[0]) / 2
    return (f"{name}: ceiling {bare:6.2f} articles/s ({before[0]:.2f} before, "
            f"{after[0]:.2f} after), pipeline {e2e:6.2f} articles/s, ratio {e2e / bare:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=480)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--latency-articles", type=int, default=80)
    parser.add_argument("--mix", type=float, nargs=2, metavar=("EXACT", "NEAR"),
                        help="also a stream with these fractions of exact and near copies "
                             "(e.g. 0.3 0.1), with the largest worker count")
    parser.add_argument("--rebalance", action="store_true",
                        help="only the latency across a rebalance (a worker joining "
                             "mid-stream), on --latency-articles articles after a burst of 40")
    args = parser.parse_args()
    if args.rebalance:
        rebalance_latency(raw_articles(CORPUS, 40 + args.latency_articles), burst=40)
        return
    if args.mix and (min(args.mix) < 0 or sum(args.mix) >= 1):
        parser.error("--mix: two fractions, each at least 0, together below 1")

    articles = raw_articles(CORPUS, args.articles)
    texts = [a["body"] for a in articles]
    print(f"{len(articles)} articles from {CORPUS}, "
          f"mean {statistics.mean(len(t) for t in texts):,.0f} chars")
    mixed: list[dict] = []
    if args.mix:
        exact, near = args.mix
        originals = args.articles - round(args.articles * exact) - round(args.articles * near)
        fresh = raw_articles(CORPUS, originals, skip=args.articles)
        mixed = mixed_stream(fresh, total=args.articles, exact=exact, near=near)
        print(f"mixed stream: {len(mixed)} articles, {len(fresh)} originals (the corpus's next), "
              f"{exact:.0%} exact copies, {near:.0%} near-copies, mean "
              f"{statistics.mean(len(a['body']) for a in mixed):,.0f} chars")
    results = {}
    for workers in args.workers:
        with_mix = bool(mixed) and workers == max(args.workers)
        # The ceiling before and after the pipeline, averaged: this machine's speed drifts
        # by 10-20% within minutes, and one reading would hand the drift to the ratio.
        first = ceiling(texts, workers)
        first_mix = ceiling([a["body"] for a in mixed], workers) if with_mix else None
        ns = Namespace(f"bench{uuid.uuid4().hex[:6]}", Path("/tmp"))
        try:
            create_topics(ns.settings)
            install_indices(ns.es, ns.settings)
            pids = _warm_up(ns, workers)
            before = cpu_seconds(pids)
            # New ids every run: with the same ids every run got the same uneven split.
            tag = uuid.uuid4().hex[:6]
            run = [dict(a, id=f"{a['id']}-{tag}") for a in articles]
            e2e = pipeline_rate(ns, run)
            after = cpu_seconds(pids)
            split = _articles_per_worker(ns, run) if workers > 1 else []
            if with_mix:
                mixed_run = [dict(a, id=f"{a['id']}-{tag}") for a in mixed]
                e2e_mix = pipeline_rate(ns, mixed_run)
                reused = _reused(ns, [a["id"] for a in mixed_run])
            lat = None
            if workers == max(args.workers):
                lat = latencies(ns, _spread(articles, args.latency_articles), e2e / 2)
        finally:
            ns.cleanup()
        second = ceiling(texts, workers)
        bare = (first[0] + second[0]) / 2
        bare_cpu = (first[1] + second[1]) / 2
        results[workers] = (bare, e2e)
        print(_ratio_line(f"workers={workers}", first, second, e2e))
        if workers > 1:
            print(f"  articles per worker (by key hash): {'/'.join(map(str, split))}")
        per_article = {part: (after[part] - before[part]) / len(articles) for part in after}
        cpu = sum(per_article.values())
        print(f"  CPU ms per article: bare NER {bare_cpu / len(articles) * 1000:.1f}; "
              f"pipeline {cpu * 1000:.1f} = "
              + " + ".join(f"{part} {ms * 1000:.1f}" for part, ms in per_article.items()))
        cores = os.cpu_count() or 1
        print(f"  pipeline used {e2e * cpu:.2f} of {cores} cores; with all {cores} busy it "
              f"could do {cores / cpu:.2f} articles/s, ratio {cores / cpu / bare:.2f}")
        if with_mix and first_mix is not None:
            second_mix = ceiling([a["body"] for a in mixed], workers)
            print(_ratio_line(f"workers={workers}, mixed stream", first_mix, second_mix,
                              e2e_mix))
            print(f"  {reused} of {len(mixed)} articles reused an enrichment (skipped NER); "
                  f"{round(len(mixed) * args.mix[0])} are exact copies")
        if lat:
            print(f"latency at half load ({e2e / 2:.2f} articles/s, {len(lat)} articles, "
                  f"{workers} workers): p50 {_pct(lat, 0.5):.2f}s  p99 {_pct(lat, 0.99):.2f}s"
                  f"  max {max(lat):.2f}s")
    if len(results) > 1:
        lo, hi = min(results), max(results)
        print(f"scaling {lo}→{hi} workers: pipeline x{results[hi][1] / results[lo][1]:.2f}, "
              f"ceiling x{results[hi][0] / results[lo][0]:.2f}")

if __name__ == "__main__":
    main()
