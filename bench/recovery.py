"""Recovery: how long a restarted worker takes to process again with steady-state tables.

    python bench/recovery.py [--articles-per-day 1000000] [--days N] [--alerts-per-day 20000]
                             [--fill changelog|local]

Steady state is what the horizons keep: ``articles-per-day x dedup horizon`` article records
(default horizon: NEWSFLOW_DEDUP_HORIZON_DAYS, so 14 M) and ``alerts-per-day x alert
horizon`` alert marks.  ``--days`` fills fewer days than the horizon.

Steps: start a worker on a fresh namespace (creates the changelog topics and its local
tables), stop it, fill the state with synthetic records (shaped like real ones: 16 band keys
and a packed signature for a first article, fewer for a copy), then time restarts, each from
the start of the process until one article published right then is searchable:
  empty   the first start (empty tables: the baseline, models and group join);
  cold    filled tables and no local state (its directory removed): every changelog is
          read from the start, as on a new host or with NEWSFLOW_STATE_STORE=memory;
  warm    the same worker restarted in place with its tables on local disk: only what the
          changelogs hold past the local state is read.
``--fill changelog`` (the default up to 2 M records) writes every record onto the changelogs
and times empty, cold and warm.  ``--fill local`` writes the records straight into the
worker's local tables, as a worker that processed them would have left them (records, the
band index derived beside them, the changelog offset they are current to), and only the
changelogs' last records onto Kafka, half of them past the local offset, so the warm restart
reads them back as after a crash; it times empty and warm (a cold start would find only that
tail).  For each start, a timeline from the worker's log: where the seconds go.
Needs the local stack; uses its own topics, index and state and removes them afterwards.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faust.stores.rocksdb import RocksDBOptions  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from rocksdict import Rdict, WriteBatch, WriteOptions  # noqa: E402

from agents.state_store import PartitionedRocksDBStore, table_options  # noqa: E402
from pipeline.core import derived  # noqa: E402
from pipeline.core.kafka_client import client_kwargs  # noqa: E402
from pipeline.core.settings import Settings  # noqa: E402
from pipeline.operations.setup import create_topics, install_indices  # noqa: E402
from pipeline.stories.state import index_entries, make_record  # noqa: E402
from tests.support import Namespace, article_json  # noqa: E402

COPY_SHARE = 0.3  # syndicated copies among articles (a copy records few or no band keys)
_REBUILT = re.compile(r"index rebuilt from (\d+) article record\(s\).*?([\d.]+)s")
_TAIL = 2000  # --fill local: records on the changelog, half of them past the local offset


def _records(articles: int, seen_at: float) -> Iterator[tuple[str, list]]:
    """(article id, record) of the synthetic articles, in the order they were processed.
    Band keys are random; signatures come from a pool of random ones (making 128 random
    numbers per story was most of a 14 M fill's time; their values matter to no start)."""
    rnd = random.Random(7)
    pool = [make_record("", 0, (), tuple(rnd.getrandbits(32) for _ in range(128)))[3]
            for _ in range(1024)]
    story = "s-0"
    for i in range(articles):
        article_id = f"a-{i}"
        if i and rnd.random() < COPY_SHARE:
            bands = [f"{b:x}.{os.urandom(8).hex()}" for b in range(rnd.randint(0, 2))]
            yield article_id, make_record(story, seen_at, bands, None)
        else:
            story = article_id
            keys = os.urandom(128).hex()
            bands = [f"{b:x}.{keys[b * 16:(b + 1) * 16]}" for b in range(16)]
            yield article_id, [story, seen_at, " ".join(bands), pool[i % len(pool)]]


def _fill(ns: Namespace, *, articles: int, alerts: int, seen_at: float) -> float:
    """Write the synthetic changelog records; returns the seconds it took."""
    started = time.monotonic()
    producer = KafkaProducer(**client_kwargs(ns.settings), acks=1, linger_ms=50,
                             batch_size=1 << 20,
                             max_request_size=8 << 20)
    dedup_topic = f"{ns.settings.kafka.consumer_group}-dedup-articles-changelog"
    fired_topic = f"{ns.settings.kafka.consumer_group}-alerts-fired-changelog"
    for article_id, record in _records(articles, seen_at):
        producer.send(dedup_topic, key=json.dumps(article_id).encode(),
                      value=json.dumps(record).encode(), partition=0)
    for partition, key, mark in _marks(alerts, seen_at, ns.settings.topics.partitions):
        producer.send(fired_topic, key=key, value=mark, partition=partition)
    producer.flush()
    producer.close()
    return time.monotonic() - started


def _marks(alerts: int, seen_at: float, partitions: int) -> Iterator[tuple[int, bytes, bytes]]:
    # the table's key and value are str, JSON-serialised: the mark text as a JSON string
    mark = json.dumps(json.dumps({"state": "sent", "at": seen_at}, separators=(",", ":")))
    for i in range(alerts):
        key = f"rule-{i % 50}/{base64.b32encode(os.urandom(10)).decode().lower()}"
        yield i % partitions, json.dumps(key).encode(), mark.encode()


def _fill_local(ns: Namespace, *, articles: int, alerts: int, seen_at: float) -> float:
    """Write the records into the stopped worker's own tables, and the changelogs' tail;
    returns the seconds it took."""
    started = time.monotonic()
    group = ns.settings.kafka.consumer_group
    dedup_topic = f"{group}-dedup-articles-changelog"
    tables = {p.name: p for p in ns.settings.state_dir.glob("*/v1/tables/*.db")}
    if "dedup-articles-0.db" not in tables:
        sys.exit(f"no local dedup table under {ns.settings.state_dir}: {sorted(tables)}")
    fast = WriteOptions()
    fast.disable_wal = True  # a bulk load: flushed to files before the worker opens it
    options = RocksDBOptions(**table_options(), use_rocksdict=True).as_options()
    db = Rdict(str(tables["dedup-articles-0.db"]), options=options)
    db.set_write_options(fast)
    handle = db.get_column_family_handle(derived.FAMILY)
    tail: list[tuple[bytes, bytes]] = []
    batch = WriteBatch(raw_mode=True)
    for n, (article_id, record) in enumerate(_records(articles, seen_at), 1):
        key, value = json.dumps(article_id).encode(), json.dumps(record).encode()
        batch.put(key, value)
        for entry, entry_value in index_entries(article_id, record):
            batch.put(entry, entry_value, handle)
        if n > articles - _TAIL:
            tail.append((key, value))
        if batch.len() >= 200_000:
            db.write(batch)
            batch = WriteBatch(raw_mode=True)
        if n % 1_000_000 == 0:
            print(f"  {n:,} records, {time.monotonic() - started:.0f}s", flush=True)
    db.write(batch)
    marks: dict[int, list[tuple[bytes, bytes]]] = {}
    for partition, key, mark in _marks(alerts, seen_at, ns.settings.topics.partitions):
        marks.setdefault(partition, []).append((key, mark))
    for partition, items in marks.items():
        fired = Rdict(str(tables[f"alerts-fired-{partition}.db"]), options=options)
        fired.set_write_options(fast)
        batch = WriteBatch(raw_mode=True)
        for key, mark in items:
            batch.put(key, mark)
        fired.write(batch)
        fired.flush()
        fired.close()
    # the changelog's last records: the local state is current to the first half of them
    producer = KafkaProducer(**client_kwargs(ns.settings), acks="all", linger_ms=50)
    for key, value in tail:
        producer.send(dedup_topic, key=key, value=value, partition=0)
    producer.flush()
    producer.close()
    end = _end_offset(ns, dedup_topic)
    db.put(PartitionedRocksDBStore.offset_key, str(end - 1 - len(tail) // 2).encode())
    db.flush()
    db.close()
    return time.monotonic() - started


def _end_offset(ns: Namespace, topic: str) -> int:
    consumer = KafkaConsumer(**client_kwargs(ns.settings))
    try:
        tp = TopicPartition(topic, 0)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles-per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=None,
                        help="days of articles to fill (default: the whole dedup horizon)")
    parser.add_argument("--alerts-per-day", type=int, default=20_000)
    parser.add_argument("--fill", choices=("changelog", "local"), default=None,
                        help="where the records go (see above; default: changelog up to 2 M "
                             "records, else local)")
    args = parser.parse_args()
    settings = Settings()
    days = args.days if args.days is not None else settings.state.dedup_horizon_days
    articles = int(args.articles_per_day * days)
    alerts = int(args.alerts_per_day * min(days, settings.state.alert_horizon_days))
    fill = args.fill or ("changelog" if articles <= 2_000_000 else "local")

    # SIGTERM (a stopped bench) still removes the namespace: the finally below runs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ns = Namespace(f"bench{uuid.uuid4().hex[:6]}",
                   Path(tempfile.mkdtemp(prefix="newsflow-bench-")))
    create_topics(ns.settings)
    install_indices(ns.es, ns.settings)
    ns.env["NEWSFLOW_LOG_FORMAT"] = "json"  # timestamps to the millisecond, for the timeline
    try:
        baseline, line, _, baseline_faust = _restart(ns, 1)
        print(f"empty: {baseline:6.1f} s  [{line}]", flush=True)
        filler = _fill if fill == "changelog" else _fill_local
        filled = filler(ns, articles=articles, alerts=alerts, seen_at=time.time())
        print(f"filled {articles:,} article records ({days:g} days at {args.articles_per_day:,}"
              f"/day) and {alerts:,} alert marks in {filled:.0f}s ({fill})", flush=True)
        starts = []
        if fill == "changelog":
            shutil.rmtree(ns.settings.state_dir, ignore_errors=True)
            cold, line, cold_state, cold_faust = _restart(ns, 2)
            print(f"cold:  {cold:6.1f} s  [{line}]", flush=True)
            starts.append(("filled, no local state", cold, cold_state, cold_faust))
        warm, line, warm_state, warm_faust = _restart(ns, 3)
        print(f"warm:  {warm:6.1f} s  [{line}]", flush=True)
        starts.append(("filled, local state", warm, warm_state, warm_faust))
        print(f"restart to processing, empty tables:           {baseline:6.1f} s (baseline; "
              f"{baseline_faust:.1f} s of it from Faust's start)")
        for name, elapsed, state, faust in starts:
            print(f"restart to processing, {name + ':':24s} {elapsed:6.1f} s (ratio "
                  f"{elapsed / baseline:.2f} to empty; the tables took {state:.1f} s of it; "
                  f"from Faust's start {faust:.1f} s, ratio {faust / baseline_faust:.2f})")
        print(f"target < 60 s with local state at {articles:,} records: "
              f"{'met' if warm < 60 else 'NOT met'} ({warm:.1f} s; empty {baseline:.1f} s)")
    finally:
        ns.cleanup()


if __name__ == "__main__":
    main()
