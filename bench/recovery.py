"""Recovery: how long a restarted worker takes to process again with steady-state tables.

    python bench/recovery.py [--articles-per-day 1000000] [--days N] [--alerts-per-day 20000]
                             [--fill changelog|local] [--keep DIR | --measure DIR]

Steady state is what the horizons keep: ``articles-per-day x dedup horizon`` article records
(default horizon: NEWSFLOW_DEDUP_HORIZON_DAYS, so 14 M) and ``alerts-per-day x alert
horizon`` alert marks.  ``--days`` fills fewer days than the horizon.

Each start is timed from the start of the process until one article published right then is
searchable, against the first start of a fresh namespace in the same run:
  empty   the first start (empty tables: the baseline, models and group join);
  cold    filled tables and no local state (its directory removed): every changelog is
          read from the start, as on a new host or with NEWSFLOW_STATE_STORE=memory;
  warm    a restart with the filled tables on local disk: only what the changelogs hold
          past the local state is read.
``--fill changelog`` (the default up to 2 M records) writes every record onto the changelogs
and times empty, cold and warm.  ``--fill local`` writes the tables straight to disk as a
worker that processed the records would have left them (``bench/state_fill.py``: records,
the band index derived beside them, the changelog offset they are current to), then times
empty and warm: the filled tables are linked into the stopped worker's slot, and each
table's last records go onto its changelog with the local state current to the first half
of them, so the warm start reads those back as after a crash.  For each start, a timeline
from the worker's log: where the seconds go.

The local fill and the measurement can run apart (a 14 M fill takes long; the measurement
wants a quiet machine): ``--fill local --keep DIR`` only fills DIR (no stack needed), and
``--measure DIR`` times empty and warm on a copy of DIR's tables (hard links; DIR stays as
it is, so it can be measured again).  Needs the local stack to measure; uses its own
topics, index and state and removes them afterwards.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from rocksdict import Checkpoint, Rdict  # noqa: E402

from agents.dedup import articles_seen  # noqa: E402
from agents.deliver import fired  # noqa: E402
from agents.state_store import PartitionedRocksDBStore  # noqa: E402
from bench import state_fill  # noqa: E402
from pipeline.core.kafka_client import client_kwargs  # noqa: E402
from pipeline.core.settings import Settings  # noqa: E402
from pipeline.operations.setup import create_topics, install_indices  # noqa: E402
from tests.support import Namespace, article_json  # noqa: E402

_REBUILT = re.compile(r"index rebuilt from (\d+) article record\(s\).*?([\d.]+)s")
_TAIL = {"dedup-articles": 2000}  # records put on a changelog per table partition
_TAIL_OTHER = 100
_MARGIN_DAYS = 1.0  # filled records are this much younger than the horizon: none expires


def _changelog_fill(ns: Namespace, *, articles: int, alerts: int, days: float,
                    alert_days: float) -> float:
    """Write the synthetic records onto the changelogs; returns the seconds it took."""
    started = time.monotonic()
    producer = KafkaProducer(**client_kwargs(ns.settings), acks=1, linger_ms=50,
                             batch_size=1 << 20, max_request_size=8 << 20)
    group = ns.settings.kafka.consumer_group
    now = time.time()
    records = state_fill.article_records(0, articles, first_seen=now - days * 86400,
                                         step=days * 86400 / max(articles, 1))
    for article_id, record in records:
        key, value = state_fill.encoded(articles_seen, article_id, record)
        producer.send(f"{group}-dedup-articles-changelog", key=key, value=value, partition=0)
    marks, _ = state_fill.alert_records(alerts, first_seen=now - alert_days * 86400,
                                        step=alert_days * 86400 / max(alerts, 1))
    store = fired.data
    assert isinstance(store, PartitionedRocksDBStore)
    for mark_key, mark in marks:
        key, value = state_fill.encoded(fired, mark_key, mark)
        producer.send(f"{group}-alerts-fired-changelog", key=key, value=value,
                      partition=store._partition(key))
    producer.flush()
    producer.close()
    return time.monotonic() - started


def _local_fill(directory: Path, *, articles: int, alerts: int, days: float,
                alert_days: float) -> None:
    print(f"filling {directory} (worker slot layout: v1/tables/*.db) ...", flush=True)
    filled = state_fill.fill(directory, articles=articles, alerts=alerts, now=time.time(),
                             article_days=days, alert_days=alert_days)
    (directory / "fill.json").write_text(json.dumps(
        {**asdict(filled), "article_days": days, "alert_days": alert_days,
         "filled_at": datetime.now().isoformat(timespec="seconds")}, indent=1))
    print(f"filled {filled.articles:,} article records and {filled.alerts:,} alert marks in "
          f"{filled.seconds:.0f} s ({filled.articles / max(filled.seconds, 1e-9):,.0f} records/s);"
          f" {filled.bytes_on_disk / 2**30:.2f} GiB on disk; the dedup database opens in "
          f"{filled.open_seconds:.2f} s", flush=True)


def _install(ns: Namespace, kept: Path) -> float:
    """Link the kept tables into the stopped worker's slot, then put each table partition's
    last records onto its changelog, with the local state current to the first half of
    them.  Returns the seconds opening the kept databases took (the largest first)."""
    slots = sorted(ns.settings.state_dir.glob("*/v1/tables"))
    if len(slots) != 1:
        sys.exit(f"expected one worker slot under {ns.settings.state_dir}, found {slots}")
    source = state_fill.tables_dir(kept)
    names = sorted(source.glob("*.db"), key=lambda p: -sum(
        f.stat().st_size for f in p.iterdir()))
    if not names:
        sys.exit(f"no tables under {source}: fill it first (--fill local --keep {kept})")
    partitions = len(list(source.glob("alerts-fired-*.db")))
    if partitions not in (0, ns.settings.topics.partitions):
        sys.exit(f"{kept} was filled for {partitions} alert partitions, the bench's namespace "
                 f"has {ns.settings.topics.partitions}: fill it with NEWSFLOW_TOPIC_PARTITIONS="
                 f"{ns.settings.topics.partitions}")
    options = state_fill.store(articles_seen).rocksdb_options
    opened = 0.0
    producer = KafkaProducer(**client_kwargs(ns.settings), acks="all", linger_ms=50,
                             max_request_size=8 << 20)
    group = ns.settings.kafka.consumer_group
    try:
        for path in names:
            target = slots[0] / path.name
            shutil.rmtree(target, ignore_errors=True)
            started = time.monotonic()
            db = options.open(path)
            opened += time.monotonic() - started
            Checkpoint(db).create_checkpoint(str(target))
            db.close()
            table, partition = path.stem.rsplit("-", 1)
            db = options.open(target)
            tail = list(_last_records(db, _TAIL.get(table, _TAIL_OTHER)))
            topic = f"{group}-{table}-changelog"
            for key, value in tail:
                producer.send(topic, key=key, value=value, partition=int(partition))
            producer.flush()
            end = _end_offset(ns, topic, int(partition))
            db.put(PartitionedRocksDBStore.offset_key, str(end - 1 - len(tail) // 2).encode())
            db.flush()
            db.close()
    finally:
        producer.close()
    return opened


def _last_records(db: Rdict, count: int) -> Iterator[tuple[bytes, bytes]]:
    """The ``count`` records whose keys sort last (the newest: ids sort in processing
    order), in key order."""
    it = db.iter()
    it.seek_to_last()
    found: list[tuple[bytes, bytes]] = []
    while it.valid() and len(found) < count:
        if it.key() != PartitionedRocksDBStore.offset_key:
            found.append((it.key(), it.value()))
        it.prev()
    return reversed(found)


def _end_offset(ns: Namespace, topic: str, partition: int = 0) -> int:
    consumer = KafkaConsumer(**client_kwargs(ns.settings))
    try:
        tp = TopicPartition(topic, partition)
        return int(consumer.end_offsets([tp])[tp])
    finally:
        consumer.close()


_MARKS = (  # first log line containing each, in the order a start goes through them
    ("faust starting (imports, NER process warmed up)", "[^Worker]: Starting"),
    ("faust up (models loaded)", "state in"),
    ("partitions assigned", "reading the changelog"),
    ("changelogs read", "Done reading from changelog topics"),
    ("band index rebuilt", "index rebuilt"),
    ("band index on disk", "nothing to rebuild"),
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


def _restart(ns: Namespace, article: int) -> tuple[float, str, float, float]:
    """Start a worker, publish one article, wait until it is searchable: seconds, the
    worker's timeline, the seconds its tables cost (changelogs read and index rebuilt), and
    the seconds from Faust's start to processing (before it, no table is touched)."""
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
    faust = elapsed - marks.get(_MARKS[0][0], 0.0)
    return elapsed, f"{line}; band index rebuild {rebuild:.1f} s", max(read, 0.0) + rebuild, faust


def _namespace() -> Namespace:
    ns = Namespace(f"bench{uuid.uuid4().hex[:6]}",
                   Path(tempfile.mkdtemp(prefix="newsflow-bench-")))
    create_topics(ns.settings)
    install_indices(ns.es, ns.settings)
    ns.env["NEWSFLOW_LOG_FORMAT"] = "json"  # timestamps to the millisecond, for the timeline
    return ns


def _report(baseline: float, baseline_faust: float,
            starts: list[tuple[str, float, float, float]], records: str) -> None:
    print(f"restart to processing, empty tables:           {baseline:6.1f} s (baseline; "
          f"{baseline_faust:.1f} s of it from Faust's start)")
    for name, elapsed, state, faust in starts:
        print(f"restart to processing, {name + ':':24s} {elapsed:6.1f} s (ratio "
              f"{elapsed / baseline:.2f} to empty; the tables took {state:.1f} s of it; "
              f"from Faust's start {faust:.1f} s, ratio {faust / baseline_faust:.2f})")
    warm = starts[-1][1]
    print(f"target < 60 s with local state at {records}: "
          f"{'met' if warm < 60 else 'NOT met'} ({warm:.1f} s; empty {baseline:.1f} s)")


def _measure(kept: Path) -> None:
    """Empty start, then a warm start on the kept tables, in one fresh namespace."""
    info = json.loads((kept / "fill.json").read_text()) if (kept / "fill.json").exists() else {}
    ns = _namespace()
    try:
        baseline, line, _, baseline_faust = _restart(ns, 1)
        print(f"empty: {baseline:6.1f} s  [{line}]", flush=True)
        opened = _install(ns, kept)
        print(f"tables linked from {kept} (opening them took {opened:.2f} s)", flush=True)
        warm, line, warm_state, warm_faust = _restart(ns, 3)
        print(f"warm:  {warm:6.1f} s  [{line}]", flush=True)
        records = (f"{info['articles']:,} records + {info['alerts']:,} alert marks"
                   if info else str(kept))
        _report(baseline, baseline_faust, [("filled, local state", warm, warm_state,
                                            warm_faust)], records)
    finally:
        ns.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles-per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=None,
                        help="days of articles to fill (default: the whole dedup horizon)")
    parser.add_argument("--alerts-per-day", type=int, default=20_000)
    parser.add_argument("--fill", choices=("changelog", "local"), default=None,
                        help="where the records go (see above; default: changelog up to 2 M "
                             "records, else local)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="with --fill local: only fill DIR (a new directory) and keep it")
    parser.add_argument("--measure", type=Path, metavar="DIR",
                        help="time an empty and a warm start on the tables a --keep run left")
    args = parser.parse_args()
    # SIGTERM (a stopped bench) still removes the namespace: the finally blocks run
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.measure:
        _measure(args.measure)
        return
    settings = Settings()
    days = args.days if args.days is not None else settings.state.dedup_horizon_days
    articles = int(args.articles_per_day * days)
    # each table fills its own horizon (alerts: 30 days, dedup: 14); --days shortens both
    alert_days = (min(args.days, settings.state.alert_horizon_days) if args.days is not None
                  else settings.state.alert_horizon_days)
    alerts = int(args.alerts_per_day * alert_days)
    fill = args.fill or ("changelog" if articles <= 2_000_000 else "local")
    # first seen over the days filled, ending a margin inside each horizon: a measurement
    # hours later must not find the oldest records expired
    spans = (min(days, settings.state.dedup_horizon_days - _MARGIN_DAYS),
             min(alert_days, settings.state.alert_horizon_days - _MARGIN_DAYS))
    if args.keep:
        if fill != "local":
            sys.exit("--keep goes with --fill local")
        _local_fill(args.keep, articles=articles, alerts=alerts, days=spans[0],
                    alert_days=spans[1])
        print(f"measure with: nice -n 19 ionice -c3 python bench/recovery.py --measure "
              f"{args.keep}")
        return
    if fill == "local":
        kept = Path(tempfile.mkdtemp(prefix="newsflow-fill-"))
        try:
            _local_fill(kept, articles=articles, alerts=alerts, days=spans[0],
                        alert_days=spans[1])
            _measure(kept)
        finally:
            shutil.rmtree(kept, ignore_errors=True)
        return
    ns = _namespace()
    try:
        baseline, line, _, baseline_faust = _restart(ns, 1)
        print(f"empty: {baseline:6.1f} s  [{line}]", flush=True)
        filled = _changelog_fill(ns, articles=articles, alerts=alerts, days=spans[0],
                                 alert_days=spans[1])
        print(f"filled {articles:,} article records ({days:g} days at {args.articles_per_day:,}"
              f"/day) and {alerts:,} alert marks in {filled:.0f}s (changelog)", flush=True)
        shutil.rmtree(ns.settings.state_dir, ignore_errors=True)
        cold, line, cold_state, cold_faust = _restart(ns, 2)
        print(f"cold:  {cold:6.1f} s  [{line}]", flush=True)
        warm, line, warm_state, warm_faust = _restart(ns, 3)
        print(f"warm:  {warm:6.1f} s  [{line}]", flush=True)
        _report(baseline, baseline_faust, [
            ("filled, no local state", cold, cold_state, cold_faust),
            ("filled, local state", warm, warm_state, warm_faust)], f"{articles:,} records")
    finally:
        ns.cleanup()


if __name__ == "__main__":
    main()
