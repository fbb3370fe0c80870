"""Recovery: how long a restarted worker takes to process again with steady-state tables.

    python bench/recovery.py [--articles-per-day 1000000] [--days N] [--alerts-per-day 20000]

Steady state is what the horizons keep: ``articles-per-day x dedup horizon`` article records
on the dedup changelog (default horizon: NEWSFLOW_DEDUP_HORIZON_DAYS) and
``alerts-per-day x alert horizon`` marks on the alerts-fired changelog.  ``--days`` fills
fewer days than the horizon (this box cannot hold 14 M records); the printed rate gives the
time for the full horizon by extrapolation, stated as such.

Steps: start a worker on a fresh namespace (creates the changelog topics), stop it, write
synthetic records straight onto the changelogs (shaped like real ones: 16 band keys and a
packed signature for a first article, fewer for a copy), then time three restarts, each
from the start of the process until one article published right then is searchable:
  empty   the first start (empty tables: the baseline, models and group join);
  cold    filled tables and no local state (its directory removed): every changelog is
          read from the start, as on a new host or with NEWSFLOW_STATE_STORE=memory;
  warm    the same worker restarted in place (SIGTERM, start): its tables are on local
          disk, and only what the changelogs gained since is read.
For each, a timeline from the worker's log: where the seconds go.
Needs the local stack; uses its own topics and index and removes them afterwards.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaProducer  # noqa: E402

from pipeline.core.kafka_client import client_kwargs  # noqa: E402
from pipeline.core.settings import Settings  # noqa: E402
from pipeline.operations.setup import create_topics, install_indices  # noqa: E402
from pipeline.stories.state import make_record  # noqa: E402
from tests.support import Namespace, article_json  # noqa: E402

COPY_SHARE = 0.3  # syndicated copies among articles (a copy records few or no band keys)
_REBUILT = re.compile(r"index rebuilt from (\d+) article record\(s\).*?([\d.]+)s")


def _fill(ns: Namespace, *, articles: int, alerts: int, seen_at: float) -> float:
    """Write the synthetic changelog records; returns the seconds it took."""
    started = time.monotonic()
    producer = KafkaProducer(**client_kwargs(ns.settings), acks=1, linger_ms=50,
                             batch_size=1 << 20,
                             max_request_size=8 << 20)
    dedup_topic = f"{ns.settings.kafka.consumer_group}-dedup-articles-changelog"
    fired_topic = f"{ns.settings.kafka.consumer_group}-alerts-fired-changelog"
    rnd = random.Random(7)
    story = "s-0"
    for i in range(articles):
        article_id = f"a-{i}"
        if i and rnd.random() < COPY_SHARE:
            record = make_record(story, seen_at, [f"{b:x}.{os.urandom(8).hex()}"
                                                  for b in range(rnd.randint(0, 2))], None)
        else:
            story = article_id
            bands = [f"{b:x}.{os.urandom(8).hex()}" for b in range(16)]
            signature = tuple(rnd.getrandbits(32) for _ in range(128))
            record = make_record(story, seen_at, bands, signature)
        producer.send(dedup_topic, key=json.dumps(article_id).encode(),
                      value=json.dumps(record).encode(), partition=0)
    # the table's key and value are str, JSON-serialised: the mark text as a JSON string
    mark = json.dumps(json.dumps({"state": "sent", "at": seen_at}, separators=(",", ":")))
    for i in range(alerts):
        key = f"rule-{i % 50}/{base64.b32encode(os.urandom(10)).decode().lower()}"
        producer.send(fired_topic, key=json.dumps(key).encode(), value=mark.encode(),
                      partition=i % ns.settings.topics.partitions)
    producer.flush()
    producer.close()
    return time.monotonic() - started


_MARKS = (  # first log line containing each, in the order a start goes through them
    ("faust up (models loaded)", "state in"),
    ("partitions assigned", "reading the changelog"),
    ("changelogs read", "Done reading from changelog topics"),
    ("band index rebuilt", "index rebuilt"),
    ("recovery complete", "Recovery complete"),
    ("streams resumed", "Worker ready"),
    ("first enrich batch", "enrich: "),
    ("first index batch", "index: "),
)


def _timeline(log: str, started: float) -> dict[str, float]:
    """Seconds from ``started`` (wall clock) to the first log line of each mark."""
    first: dict[str, float] = {}
    for line in log.splitlines():
        try:
            entry = json.loads(line)
            at = datetime.fromisoformat(entry["time"]).timestamp()
        except (ValueError, KeyError, TypeError):
            continue
        for name, text in _MARKS:
            if name not in first and text in str(entry.get("message", "")):
                first[name] = at - started
    return first


def _restart(ns: Namespace, article: int) -> tuple[float, str, float]:
    """Start a worker, publish one article, wait until it is searchable: seconds, the
    worker's timeline, and the seconds its tables cost (changelogs read and index rebuilt)."""
    before = ns.count()
    logs_before = set(ns.tmp.glob("worker-*.log"))
    wall, started = time.time(), time.monotonic()
    worker = ns.start_worker()
    ns.produce([(f"probe-{article}".encode(), article_json(article))])
    if ns.wait_for_count(before + 1, timeout=900) < before + 1:
        ns.stop_all()
        sys.exit(f"the probe article was not indexed in 15 min\n{ns.logs()[-3000:]}")
    elapsed = time.monotonic() - started
    ns.stop_all()
    worker.wait(timeout=60)
    log = "\n".join(p.read_text() for p in set(ns.tmp.glob("worker-*.log")) - logs_before)
    rebuilt = _REBUILT.findall(log)
    rebuild = float(rebuilt[-1][1]) if rebuilt else 0.0
    marks = _timeline(log, wall)
    read = marks.get("recovery complete", 0.0) - marks.get("partitions assigned", 0.0)
    line = ", ".join(f"{name} {marks[name]:.1f}" for name, _ in _MARKS if name in marks)
    return elapsed, f"{line}; band index rebuild {rebuild:.1f} s", max(read, 0.0) + rebuild


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles-per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=None,
                        help="days of articles to fill (default: the whole dedup horizon)")
    parser.add_argument("--alerts-per-day", type=int, default=20_000)
    args = parser.parse_args()
    settings = Settings()
    days = args.days if args.days is not None else settings.state.dedup_horizon_days
    articles = int(args.articles_per_day * days)
    alerts = int(args.alerts_per_day * min(days, settings.state.alert_horizon_days))

    ns = Namespace(f"bench{uuid.uuid4().hex[:6]}",
                   Path(tempfile.mkdtemp(prefix="newsflow-bench-")))
    create_topics(ns.settings)
    install_indices(ns.es, ns.settings)
    ns.env["NEWSFLOW_LOG_FORMAT"] = "json"  # timestamps to the millisecond, for the timeline
    try:
        baseline, line, _ = _restart(ns, 1)
        print(f"empty: {baseline:6.1f} s  [{line}]", flush=True)
        filled = _fill(ns, articles=articles, alerts=alerts, seen_at=time.time())
        print(f"filled {articles:,} article records ({days:g} days at {args.articles_per_day:,}"
              f"/day) and {alerts:,} alert marks in {filled:.0f}s", flush=True)
        shutil.rmtree(ns.settings.state_dir, ignore_errors=True)
        cold, line, cold_state = _restart(ns, 2)
        print(f"cold:  {cold:6.1f} s  [{line}]", flush=True)
        warm, line, warm_state = _restart(ns, 3)
        print(f"warm:  {warm:6.1f} s  [{line}]", flush=True)
        print(f"restart to processing, empty tables:           {baseline:6.1f} s (baseline)")
        for name, elapsed, state in (("filled, no local state", cold, cold_state),
                                     ("filled, local state", warm, warm_state)):
            print(f"restart to processing, {name + ':':24s} {elapsed:6.1f} s (ratio "
                  f"{elapsed / baseline:.2f}; the tables took {state:.1f} s of it = "
                  f"{articles / max(state, 1e-9):,.0f} records/s)")
        full = args.articles_per_day * settings.state.dedup_horizon_days
        if full > articles:
            print(f"extrapolated to the full {settings.state.dedup_horizon_days:g}-day horizon "
                  f"({full:,.0f} records), local state: "
                  f"{warm + warm_state * (full / articles - 1):.0f} s (the tables' share "
                  f"scaled linearly; not measured)")
        print(f"target < 60 s with local state: {'met' if warm < 60 else 'NOT met'} "
              f"for the state filled here")
    finally:
        ns.cleanup()


if __name__ == "__main__":
    main()
