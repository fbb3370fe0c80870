"""Steady-state tables for the recovery bench, written to disk as a worker would have left them.

``fill(directory, articles=..., alerts=...)`` writes synthetic dedup records (``articles``,
shaped like real ones: 16 band keys and a packed signature for a first article, none to two
for a copy; first seen spread over the days they stand for) and alert marks (``alerts``
``alerts-fired`` marks and one ``alerts-pending`` state per rule) into the table databases of
a worker slot directory (``<directory>/v1/tables/*.db``), each with the changelog offset it is
current to, as if its changelog held exactly these records.

Everything a worker decides is taken from the worker's own code: the tables and their stores
(``agents.dedup``, ``agents.deliver``) give the paths, the RocksDB options, the key and value
encoding, the partition of each key and the derived band index; the records go in through
``pipeline.core.derived.load``'s sorted files instead of one write each, which the unit test
``tests/unit/agents/test_state_fill.py`` checks against the live write path.  Chunks of
records are encoded and sorted in ``processes`` processes at once.
"""

from __future__ import annotations

import multiprocessing
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faust.types import TP

from agents.app import app
from agents.dedup import articles_seen
from agents.deliver import fired, pending
from agents.state_store import PartitionedRocksDBStore
from pipeline.alerts.fired import outcome
from pipeline.alerts.rulebook import Pending
from pipeline.core import derived
from pipeline.stories.state import ArticleRecord, make_record
from schemas import Alert

COPY_SHARE = 0.3  # syndicated copies among articles (a copy records few or no band keys)
RULES = 50  # alert rules the marks are spread over
CHUNK = 250_000  # records per sorted file (memory: about 1 GB per process building one)
_BLOCK = 100  # articles per run of random numbers
_SIGNATURES = 1024  # distinct signatures (128 random numbers each cost most of a fill's time)


@dataclass(frozen=True)
class Filled:
    articles: int
    alerts: int
    seconds: float
    open_seconds: float  # opening the dedup database with its column families, afterwards
    bytes_on_disk: int


def tables_dir(directory: Path) -> Path:
    """Where a worker whose slot is ``directory`` keeps its table databases (this process's
    tables are kept there from now on)."""
    app.conf.datadir = directory
    return Path(app.conf.tabledir)


def article_records(start: int, stop: int, *, first_seen: float,
                    step: float) -> Iterator[tuple[str, ArticleRecord]]:
    """(article id, record) of synthetic articles ``start`` to ``stop`` in processing order.
    Article ``i`` is the same whatever range it is made in (the random numbers restart every
    ``_BLOCK`` articles, each block opening with a first article), so chunks made apart
    form one stream; ids sort in processing order."""
    rnd, story = random.Random(), ""
    for i in range(start - start % _BLOCK, stop):
        if i % _BLOCK == 0:
            rnd.seed(i)
        seen_at = round(first_seen + i * step, 3)
        if i % _BLOCK and rnd.random() < COPY_SHARE:
            bands = [f"{b:x}.{rnd.randbytes(8).hex()}" for b in range(rnd.randint(0, 2))]
            if i >= start:
                yield f"a-{i:010d}", make_record(story, seen_at, bands, None)
        else:
            story = f"a-{i:010d}"
            keys = rnd.randbytes(128).hex()
            if i >= start:
                record = make_record(story, seen_at, [f"{b:x}.{keys[b * 16:(b + 1) * 16]}"
                                                      for b in range(16)], None)
                record[3] = _signature(i % _SIGNATURES)
                yield story, record


def alert_records(count: int, *, first_seen: float, step: float,
                  ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``alerts-fired`` marks (``count``, sent over the span) and ``alerts-pending`` states
    (one per rule, last sent at the end), as key-value pairs in the tables' own text."""
    marks = []
    for i in range(count):
        rule_id = f"rule-{i % RULES:02d}"
        alert_id = Alert.make_id(rule_id, f"a-{i:010d}")
        marks.append((f"{rule_id}/{alert_id}",
                      outcome((), at=round(first_seen + i * step, 3)).to_text()))
    last = first_seen + count * step
    states = [(f"rule-{r:02d}", Pending(last_sent=round(last, 3)).to_json())
              for r in range(RULES if count else 0)]
    return marks, states


def fill(directory: Path, *, articles: int, alerts: int, now: float, article_days: float,
         alert_days: float, processes: int = 2, chunk: int = CHUNK) -> Filled:
    """Write the tables under ``directory`` (a worker slot; created, must hold no tables):
    articles first seen over the ``article_days`` before ``now``, alerts over ``alert_days``."""
    started = time.monotonic()
    tables = tables_dir(directory)
    if tables.exists() and any(tables.iterdir()):
        raise SystemExit(f"{tables} already holds tables: fill an empty directory")
    work = directory / "sst"
    span = article_days * 86400
    _Job.setup(work, articles, chunk, now - span, span / max(articles, 1))
    context = multiprocessing.get_context("fork")
    pool = context.Pool(processes) if processes > 1 and articles > chunk else None
    try:
        dedup = store(articles_seen)
        db = dedup._db_for_partition(0)  # opened as the worker opens it: with its options
        parts = range((articles + chunk - 1) // chunk)
        files = pool.imap(_Job.files, parts) if pool else map(_Job.files, parts)
        derived.ingest(db, _progress(files, chunk, started))
        _set_offset(dedup, 0, articles)
        step = alert_days * 86400 / max(alerts, 1)
        marks, states = alert_records(alerts, first_seen=now - alert_days * 86400, step=step)
        for table, items in ((fired, marks), (pending, states)):
            _fill_by_partition(store(table), items, work)
        for table in (articles_seen, fired, pending):
            store(table).close_databases()
    finally:
        if pool:
            pool.close()
            pool.join()
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.monotonic() - started
    opened = time.monotonic()
    store(articles_seen).rocksdb_options.open(tables / "dedup-articles-0.db").close()
    size = sum(p.stat().st_size for p in tables.rglob("*") if p.is_file())
    return Filled(articles, alerts, seconds, time.monotonic() - opened, size)


def encoded(table: Any, key: str, value: Any) -> tuple[bytes, bytes]:
    """A table's key and value as its store writes them."""
    tables = store(table)
    return tables._encode_key(key), tables._encode_value(value)


class _Job:
    """What each process building sorted files needs (set before the processes fork)."""

    work: Path
    articles: int
    chunk: int
    first_seen: float
    step: float

    @classmethod
    def setup(cls, work: Path, articles: int, chunk: int, first_seen: float,
              step: float) -> None:
        cls.work, cls.articles, cls.chunk = work, articles, chunk
        cls.first_seen, cls.step = first_seen, step

    @classmethod
    def files(cls, part: int) -> derived.TableFiles:
        dedup = store(articles_seen)
        start = part * cls.chunk
        records = ((dedup._encode_key(article_id), dedup._encode_value(record))
                   for article_id, record in article_records(
                       start, min(start + cls.chunk, cls.articles),
                       first_seen=cls.first_seen, step=cls.step))
        return derived.table_files(records, dedup.derive, dedup.rocksdb_options.as_options(),
                                   cls.work / f"articles-{part}")


def _progress(files: Iterator[derived.TableFiles], chunk: int,
              started: float) -> Iterator[derived.TableFiles]:
    done = 0
    for n, batch in enumerate(files, 1):
        yield batch
        done += batch.count
        if n % max(1, 1_000_000 // chunk) == 0:
            print(f"  {done:,} article records, {time.monotonic() - started:.0f} s", flush=True)


def _fill_by_partition(store: PartitionedRocksDBStore, items: list[tuple[str, str]],
                       work: Path) -> None:
    by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
    for key, value in items:
        raw = store._encode_key(key), store._encode_value(value)
        by_partition.setdefault(store._partition(raw[0]), []).append(raw)
    for partition, records in sorted(by_partition.items()):
        db = store._db_for_partition(partition)
        derived.load(db, records, store.derive, store.rocksdb_options.as_options(),
                     work / f"{store.table_name}-{partition}")
        _set_offset(store, partition, len(records))


def _set_offset(store: PartitionedRocksDBStore, partition: int, records: int) -> None:
    # as after the changelog took every record: the offset of its last one
    if records:
        topic = store.table.changelog_topic_name  # type: ignore[attr-defined]
        store.set_persisted_offset(TP(topic, partition), records - 1)


def store(table: Any) -> PartitionedRocksDBStore:
    store = table.data
    if not isinstance(store, PartitionedRocksDBStore):
        raise SystemExit("the tables are not on RocksDB (NEWSFLOW_STATE_STORE=memory?)")
    return store


_signatures: list[str] = []


def _signature(n: int) -> str:
    if not _signatures:
        rnd = random.Random(7)
        _signatures.extend(
            make_record("", 0, (), tuple(rnd.getrandbits(32) for _ in range(128)))[3]
            for _ in range(_SIGNATURES))
    return str(_signatures[n])
