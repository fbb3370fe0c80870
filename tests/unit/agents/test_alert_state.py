"""The alert horizon on the worker's own RocksDB store (``agents.deliver``'s ``alerts-fired``
table): the sweep finds the marks past the horizon from the time index beside them and
deletes those, keeping the rest; the index a worker reads back from the changelog is the
one its live writes built; and writes do not flush the index's memtable one by one.

The marks go through the table's store (``fired.data``: Faust's encoding, the rule's
partition, ``pipeline.core.derived.write``), which is what the Faust table delegates to.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import faust
import pytest
from faust.types import TP
from faust.types.tuples import Message
from rocksdict import Options, Rdict

from agents.app import app, settings
from agents.deliver import expired_marks, fired, pending, rule_partition
from agents.state_store import PartitionedRocksDBStore
from bench import state_fill
from pipeline.alerts.fired import Fired, expired
from pipeline.alerts.ledger import AlertLedger
from pipeline.core import derived

DAY = 86400.0
NOW = 1_760_000_000.0
HORIZON = 30 * DAY
PARTITIONS = range(settings.topics.partitions)


def _marks() -> dict[str, str]:
    """Marks of 40 rules (spread over the partitions), 10 alerts each, recorded 0-39 days
    before NOW, one at the horizon exactly, and a few from before marks had a time."""
    marks = {f"rule-{r:02d}/alert-{a}": Fired("sent", NOW - (r + a) % 40 * DAY).to_text()
             for r in range(40) for a in range(10)}
    marks["rule-00/edge"] = Fired("held", NOW - HORIZON).to_text()
    marks.update({f"rule-{r:02d}/legacy": "sent" for r in range(0, 40, 7)})
    return marks


@pytest.fixture
def tables() -> Iterator[Callable[[Path], PartitionedRocksDBStore]]:
    """The alerts-fired store with its tables in a given slot directory; closed after the
    test however it ends (the store is the module's, shared by the tests)."""

    def open_in(directory: Path) -> PartitionedRocksDBStore:
        for table in (fired, pending):
            state_fill.store(table).close_databases()
        state_fill.tables_dir(directory)
        return state_fill.store(fired)

    yield open_in
    for table in (fired, pending):
        state_fill.store(table).close_databases()


def _contents(directory: Path) -> dict[str, dict[str, dict[bytes, bytes]]]:
    """Every alerts-fired database's column families, records without Faust's offset."""
    found = {}
    for path in sorted(state_fill.tables_dir(directory).glob("alerts-fired-*.db")):
        db = Rdict(str(path), options=Options(raw_mode=True))
        found[path.name] = {name: {k: v for k, v in db.get_column_family(name).items()
                                   if not k.startswith(b"__faust")}
                            for name in Rdict.list_cf(str(path))}
        db.close()
    return found


def test_the_sweep_deletes_the_marks_past_the_horizon_and_keeps_the_rest(
        tmp_path: Path, tables: Callable[[Path], PartitionedRocksDBStore]) -> None:
    store = tables(tmp_path)
    marks = _marks()
    for key, text in marks.items():
        store[key] = text
    old = set(expired(marks.items(), now=NOW, horizon_seconds=HORIZON))
    assert 0 < len(old) < len(marks) - 10

    found = asyncio.run(expired_marks(PARTITIONS, now=NOW, horizon=HORIZON))
    assert sorted(found) == sorted(old)
    held = {0, 2}  # a worker holding some partitions lists only their rules' marks
    assert sorted(asyncio.run(expired_marks(held, now=NOW, horizon=HORIZON))) == sorted(
        k for k in old if rule_partition(k.split("/")[0]) in held)

    ledger = AlertLedger(store, state_fill.store(pending))
    assert ledger.forget_marks(found, now=NOW, horizon_seconds=HORIZON) == len(old)
    kept = {key: text for key, text in marks.items() if key not in old}
    for key in marks:
        assert store.get(key) == kept.get(key), key
    assert asyncio.run(expired_marks(PARTITIONS, now=NOW, horizon=HORIZON)) == []
    # the index holds exactly the kept marks that have a time, each under its rule's
    # partition; the next day, the marks then past the horizon and only those
    entries = [k for p in PARTITIONS for k, _ in derived.View(
        store._dbs[p].get_column_family(derived.FAMILY)).scan(b"")]
    assert len(entries) == sum(1 for text in kept.values() if text != "sent")
    later = asyncio.run(expired_marks(PARTITIONS, now=NOW + DAY, horizon=HORIZON))
    assert sorted(later) == sorted(expired(kept.items(), now=NOW + DAY,
                                           horizon_seconds=HORIZON))


def _changelog_events(records: list[tuple[str, str | None]]) -> list[faust.Event]:
    """The table's changelog records as a recovering worker reads them: each in its rule's
    partition, at increasing offsets, keys and values in the table's JSON."""
    events = []
    offsets: dict[int, int] = {}
    for key, value in records:
        partition = rule_partition(key.split("/")[0])
        offset = offsets[partition] = offsets.get(partition, -1) + 1
        raw_key = json.dumps(key).encode()
        raw_value = json.dumps(value).encode() if value is not None else None
        message = Message(fired.changelog_topic_name, partition, offset, NOW, 0, [],
                          raw_key, raw_value, None,
                          tp=TP(fired.changelog_topic_name, partition))
        events.append(faust.Event(app, raw_key, raw_value, {}, message))
    return events


def test_the_index_read_back_from_the_changelog_is_the_one_live_writes_built(
        tmp_path: Path, tables: Callable[[Path], PartitionedRocksDBStore]) -> None:
    marks = _marks()
    # what the worker wrote, in order: every mark, then some rewritten (held, then sent
    # much later) and some deleted by a sweep; the changelog holds the same, in order
    writes: list[tuple[str, str | None]] = list(marks.items())
    writes += [(key, Fired("sent", NOW + DAY).to_text()) for key in list(marks)[5:60:5]]
    writes += [(key, None) for key in list(marks)[100:140:3]]
    live = tables(tmp_path / "live")
    for key, value in writes:
        if value is None:
            del live[key]
        else:
            live[key] = value
    live.close_databases()

    recovered = tables(tmp_path / "recovered")
    events = _changelog_events(writes)
    # a recovering worker gets the changelog in batches; a record may come twice
    recovered.apply_changelog_batch(events[:150], None, None)
    recovered.apply_changelog_batch(events[140:], None, None)
    recovered.close_databases()

    recovered_tables = _contents(tmp_path / "recovered")
    assert recovered_tables == _contents(tmp_path / "live")
    assert sum(len(t[derived.FAMILY]) for t in recovered_tables.values()) > 300


def test_writes_through_the_store_leave_the_index_in_its_memtable(
        tmp_path: Path, tables: Callable[[Path], PartitionedRocksDBStore]) -> None:
    """rocksdict flushes a column family's memtable when the object for it is dropped: a
    store that made one per write wrote a table file per mark."""
    store = tables(tmp_path)
    for key, text in _marks().items():
        store[key] = text
    for partition in PARTITIONS:
        family = store._dbs[partition].get_column_family(derived.FAMILY)
        assert family.property_int_value("rocksdb.num-files-at-level0") == 0
        assert family.property_int_value("rocksdb.num-entries-active-mem-table") > 0
