"""Soak: hours at a steady load with a rebalance and a restart; does it stay flat?

    python bench/soak.py [--minutes 120] [--workers 2] [--load 0.8] [--chart soak.png]

Measures the maximum rate of the workers first (a burst, in this run), then publishes
corpus articles at ``--load`` of it.  Every 10 s (every second around an event) it samples
the group's lag on the raw topic, the resident memory of every process (each worker, its
NER child, Kafka, Elasticsearch) and the on-disk size of the changelog topics.  Events in
the middle: at 40% of the run a third worker joins (a rebalance), at 50% it leaves (another),
at 65% a worker is SIGKILLed and restarted; the recovery time is from the kill until the lag
is back where it was.  At the end it stops publishing, waits for every article to be
searchable (nothing lost), prints the figures — memory and state growth over the last hour
(or last third of a shorter run; target < 10%), lag after warm-up — and writes a PNG chart.
Needs the local stack; uses its own topics and index and removes them afterwards.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaAdminClient, KafkaProducer  # noqa: E402

from bench.corpora import corpus  # noqa: E402
from pipeline.core.kafka_client import client_kwargs  # noqa: E402
from pipeline.operations.offsets import group_offsets  # noqa: E402
from pipeline.operations.setup import create_topics, install_indices  # noqa: E402
from tests.support import Namespace  # noqa: E402

SAMPLE_EVERY = 10.0
CLOSE_SAMPLE_EVERY = 1.0  # while recovering from an event


@dataclass
class Sample:
    t: float
    sent: int
    lag: int
    rss_mib: dict[str, float]
    changelog_mib: dict[str, float]


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)


def _articles(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, rss KiB) of every process."""
    out = subprocess.run(["ps", "-o", "pid=,ppid=,rss=", "-e"], capture_output=True, text=True)
    rows = [tuple(map(int, line.split())) for line in out.stdout.splitlines() if line.strip()]
    return {pid: (ppid, rss) for pid, ppid, rss in rows}


def _memory(workers: dict[str, subprocess.Popen], stack_dir: Path) -> dict[str, float]:
    """Resident MiB of each worker, each of its children, Kafka and Elasticsearch."""
    procs = _processes()
    found: dict[str, float] = {}
    for name, proc in workers.items():
        if proc.pid in procs:
            found[name] = procs[proc.pid][1] / 1024
            children = [pid for pid, (ppid, _) in procs.items() if ppid == proc.pid]
            for i, child in enumerate(sorted(children, key=lambda p: -procs[p][1])):
                found[f"{name}.child{i}"] = procs[child][1] / 1024  # child0: NER
    for service in ("kafka", "elasticsearch"):
        try:
            pid = int((stack_dir / f"{service}.pid").read_text().strip())
        except (OSError, ValueError):
            continue
        if pid in procs:  # Elasticsearch's launcher JVM runs the server as its child
            found[service] = sum(procs[p][1] for p in _tree(procs, pid)) / 1024
    return found


def _tree(procs: dict[int, tuple[int, int]], root: int) -> list[int]:
    """``root`` and all its descendants."""
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, (ppid, _) in procs.items() if ppid in frontier]
        tree += frontier
    return tree


def _changelogs(ns: Namespace, data_dir: Path) -> dict[str, float]:
    """MiB on disk of each changelog topic of this run (all partitions)."""
    sizes: dict[str, float] = {}
    prefix = f"{ns.settings.kafka.consumer_group}-"
    for part in data_dir.glob(f"{prefix}*-changelog-*"):
        table = part.name[len(prefix):].rsplit("-changelog-", 1)[0]
        # blocks on disk: Kafka preallocates its index files sparse, at their full size
        total = sum(f.stat().st_blocks * 512 for f in part.iterdir() if f.is_file())
        sizes[table] = sizes.get(table, 0.0) + total / (1 << 20)
    return sizes


def _lag(ns: Namespace, admin: KafkaAdminClient) -> int:
    rows = group_offsets(admin, ns.settings.kafka.consumer_group, [ns.settings.topics.raw])
    return sum(row.end - (row.committed if row.committed is not None else row.start)
               for row in rows)


def _growth(values: list[float]) -> float:
    return (values[-1] - values[0]) / values[0] if values and values[0] else 0.0


def _chart(run: Run, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s.t / 60 for s in run.samples]
    fig, (ax_lag, ax_mem, ax_log) = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    ax_lag.plot(minutes, [s.lag for s in run.samples], color="black")
    ax_lag.set_ylabel("lag on raw (messages)")
    for name in sorted({n for s in run.samples for n in s.rss_mib}):
        ax_mem.plot(minutes, [s.rss_mib.get(name, float("nan")) for s in run.samples], label=name)
    ax_mem.set_ylabel("resident memory (MiB)")
    ax_mem.legend(fontsize=7, ncol=4)
    for name in sorted({n for s in run.samples for n in s.changelog_mib}):
        ax_log.plot(minutes, [s.changelog_mib.get(name, float("nan")) for s in run.samples],
                    label=name)
    ax_log.set_ylabel("changelog on disk (MiB)")
    ax_log.set_xlabel("minutes")
    ax_log.legend(fontsize=7)
    for ax in (ax_lag, ax_mem, ax_log):
        for t, label in run.events:
            ax.axvline(t / 60, color="grey", linestyle=":")
            if ax is ax_lag:
                ax.annotate(label, (t / 60, 0), rotation=90, fontsize=7, va="bottom")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=120)
    parser.add_argument("--warmup-minutes", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--load", type=float, default=0.8, help="share of the maximum rate")
    parser.add_argument("--burst", type=int, default=120, help="articles to measure max rate")
    parser.add_argument("--chart", type=Path, default=None, help="PNG path (default: /tmp)")
    parser.add_argument("--horizon-minutes", type=float, default=None,
                        help="the workers' dedup and alert horizons (default: the settings', "
                        "days; a run shorter than them shows growth, not a plateau)")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="JSONL articles to publish (default: the shared US corpus)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill, too

    texts = _articles(args.corpus or corpus("us-immigration-2020.jsonl"))
    counter = itertools.count()

    def next_article() -> tuple[bytes, bytes]:
        i = next(counter)
        cycle, record = divmod(i, len(texts))[0], texts[i % len(texts)]
        # past the first pass each text is a revision, not an exact copy: exact copies
        # skip NER (issue 17), which would leave the workers idle for the rest of the soak
        body = record["body"] + (f"\n\n(Revision {cycle}.)" if cycle else "")
        article = {"id": f"soak-{i}", "body": body, "source": record["source"],
                   "published_at": record["published_at"]}
        return article["id"].encode(), json.dumps(article).encode()

    ns = Namespace(f"soak{uuid.uuid4().hex[:6]}", Path(tempfile.mkdtemp(prefix="newsflow-soak-")))
    if args.horizon_minutes is not None:
        # Expired records leave the changelog's disk once their segment rolls and is
        # compacted: segments of a third of the horizon, swept every minute.
        days = str(args.horizon_minutes / 1440)
        ns.env.update(NEWSFLOW_DEDUP_HORIZON_DAYS=days, NEWSFLOW_ALERT_HORIZON_DAYS=days,
                      NEWSFLOW_STATE_CHANGELOG_SEGMENT_HOURS=str(args.horizon_minutes / 180),
                      NEWSFLOW_STATE_SWEEP_SECONDS="60")
    chart = args.chart or Path(f"/tmp/{ns.settings.kafka.consumer_group}.png")
    stack_dir = ns.settings.stack_dir
    data_dir = stack_dir / "kafka" / "data"
    try:
        create_topics(ns.settings)
        install_indices(ns.es, ns.settings)
        workers = {f"w{i}": ns.start_worker() for i in range(args.workers)}
        producer = KafkaProducer(**client_kwargs(ns.settings), acks="all", linger_ms=5)
        admin = KafkaAdminClient(**client_kwargs(ns.settings))
        ns.wait_for_group(args.workers)

        for key, value in (next_article() for _ in range(8)):
            producer.send(ns.settings.topics.raw, key=key, value=value)
        producer.flush()
        warm = ns.wait_for_count(8, timeout=300)
        if warm < 8:
            print(f"warning: {8 - warm} of 8 warm-up articles not indexed in 300 s", flush=True)
        start = time.perf_counter()
        for key, value in (next_article() for _ in range(args.burst)):
            producer.send(ns.settings.topics.raw, key=key, value=value)
        producer.flush()
        ns.wait_for_count(warm + args.burst, timeout=900)
        max_rate = args.burst / (time.perf_counter() - start)
        rate = max_rate * args.load
        print(f"max rate {max_rate:.2f} articles/s with {args.workers} workers; soaking at "
              f"{rate:.2f}/s ({args.load:.0%}) for {args.minutes:g} min", flush=True)
        print(f"{'t (s)':>7} {'sent':>7} {'lag':>5} {'workers MiB':>12} "
              f"{'changelogs MiB':>15}  event")

        run = Run()
        total_s = args.minutes * 60
        plan = [(0.40 * total_s, "join"), (0.50 * total_s, "leave"), (0.65 * total_s, "restart")]
        extra: subprocess.Popen | None = None
        recovering: tuple[float, int] | None = None  # (kill time, lag at the kill)
        recovery_s: float | None = None
        close_until = 0.0
        t0 = time.perf_counter()
        sent, next_send, next_sample = 0, t0, t0
        lag = 0
        while (now := time.perf_counter()) - t0 < total_s:
            t = now - t0
            if plan and t >= plan[0][0]:
                _, event = plan.pop(0)
                if event == "join":
                    extra = workers["extra"] = ns.start_worker()
                elif event == "leave" and extra is not None:
                    os.killpg(extra.pid, signal.SIGTERM)
                    extra.wait(timeout=60)
                    del workers["extra"]
                elif event == "restart":
                    ns.kill_worker(workers["w0"])
                    recovering = (t, lag)
                    workers["w0"] = ns.start_worker()
                run.events.append((t, event))
                close_until = t + 120
                print(f"{t:7.0f} {'':>7} {'':>5} {'':>12} {'':>15}  {event}", flush=True)
            if now >= next_send:
                key, value = next_article()
                producer.send(ns.settings.topics.raw, key=key, value=value)
                sent += 1
                next_send += 1 / rate
            if now >= next_sample:
                producer.flush()
                lag = _lag(ns, admin)
                sample = Sample(t, sent, lag, _memory(workers, stack_dir),
                                _changelogs(ns, data_dir))
                run.samples.append(sample)
                if recovering is not None and t > recovering[0] + 5 and lag <= max(
                        recovering[1], 2 * rate):
                    recovery_s, recovering = t - recovering[0], None
                    print(f"{t:7.0f} recovered {recovery_s:.0f} s after the kill", flush=True)
                if len(run.samples) % (1 if t > close_until else 6) == 0 or t <= close_until:
                    w_mib = sum(v for k, v in sample.rss_mib.items() if k.startswith("w"))
                    print(f"{t:7.0f} {sent:7d} {lag:5d} {w_mib:12.0f} "
                          f"{sum(sample.changelog_mib.values()):15.1f}", flush=True)
                next_sample += CLOSE_SAMPLE_EVERY if t <= close_until else SAMPLE_EVERY
                next_sample = max(next_sample, time.perf_counter())
            time.sleep(min(0.01, max(0.0, min(next_send, next_sample) - time.perf_counter())))

        producer.flush()
        drained = ns.wait_for_count(8 + args.burst + sent, timeout=600)
        lost = 8 + args.burst + sent - drained

        warm = [s for s in run.samples if s.t >= args.warmup_minutes * 60] or run.samples
        last = [s for s in run.samples if s.t >= total_s - min(3600, total_s / 3)]
        print(f"\n{sent} articles at {rate:.2f}/s; indexed {drained}; lost {lost}")
        print(f"lag after warm-up: max {max(s.lag for s in warm)}, final {warm[-1].lag}")
        print(f"recovery after the kill: {recovery_s:.0f} s" if recovery_s is not None
              else "recovery after the kill: not back within the run")
        window = f"last {(last[-1].t - last[0].t) / 60:.0f} min" if last else "-"
        print(f"growth over the {window} (target < 10%):")
        for name in sorted({n for s in last for n in s.rss_mib}):
            series = [s.rss_mib[name] for s in last if name in s.rss_mib]
            print(f"  memory {name:18s} {series[0]:7.0f} → {series[-1]:7.0f} MiB "
                  f"({_growth(series):+.1%})")
        for name in sorted({n for s in last for n in s.changelog_mib}):
            series = [s.changelog_mib[name] for s in last if name in s.changelog_mib]
            print(f"  changelog {name:15s} {series[0]:7.1f} → {series[-1]:7.1f} MiB "
                  f"({_growth(series):+.1%})")
        _chart(run, chart, f"soak: {args.minutes:g} min, {args.workers} workers, "
               f"{rate:.1f} articles/s ({args.load:.0%} of max)")
        print(f"chart: {chart}")
    finally:
        ns.cleanup()


if __name__ == "__main__":
    main()
