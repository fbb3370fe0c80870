"""The recovery bench's fill (``bench.state_fill``) leaves the worker's tables exactly as the
worker's own writes would: the same records, derived band index and changelog offsets.

The live side goes through the worker's stores: ``store[key] = value`` (Faust's encoding,
the key's partition, ``pipeline.core.derived.write``) and the offset Faust persists once the
changelog took a record.  The fill goes through sorted files ingested in several chunks,
whose band keys overlap, so the merge of overlapping files is covered too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faust.types import TP
from rocksdict import Options, Rdict

from agents.dedup import articles_seen
from agents.deliver import fired, pending
from bench import state_fill
from pipeline.core import derived

ARTICLES, ALERTS = 1_000, 120
NOW = 1_760_000_000.0


def _live(directory: Path) -> None:
    """What a worker that processed the same articles and alerts leaves on disk."""
    state_fill.tables_dir(directory)
    step = 13 * 86400 / ARTICLES
    records = list(state_fill.article_records(0, ARTICLES, first_seen=NOW - 13 * 86400,
                                              step=step))
    marks, states = state_fill.alert_records(ALERTS, first_seen=NOW - 29 * 86400,
                                             step=29 * 86400 / ALERTS)
    for table, items in ((articles_seen, records), (fired, marks), (pending, states)):
        store = table.data
        written: dict[int, int] = {}
        for key, value in items:
            store[key] = value
            partition = store._partition(store._encode_key(key))
            written[partition] = written.get(partition, 0) + 1
        for partition, count in written.items():
            store.set_persisted_offset(TP(table.changelog_topic_name, partition), count - 1)
        store.close_databases()


def _contents(tables: Path) -> dict[str, Any]:
    found = {}
    for path in sorted(tables.glob("*.db")):
        db = Rdict(str(path), options=Options(raw_mode=True))
        families = Rdict.list_cf(str(path))
        found[path.name] = {name: dict(db.get_column_family(name).items())
                            for name in families}
        db.close()
    return found


def test_the_filled_tables_equal_what_the_worker_writes(tmp_path: Path) -> None:
    _live(tmp_path / "live")
    live = _contents(state_fill.tables_dir(tmp_path / "live"))

    filled = state_fill.fill(tmp_path / "filled", articles=ARTICLES, alerts=ALERTS, now=NOW,
                             article_days=13, alert_days=29, processes=2, chunk=300)

    assert filled.articles == ARTICLES and filled.alerts == ALERTS
    assert _contents(state_fill.tables_dir(tmp_path / "filled")) == live
    dedup = live["dedup-articles-0.db"]
    assert len(dedup["default"]) == ARTICLES + 1  # and the persisted offset
    assert dedup["default"][b"__faust\0offset__"] == str(ARTICLES - 1).encode()
    assert len(dedup[derived.FAMILY]) > 10 * ARTICLES  # band keys, times seen, copies
    assert sum(len(t["default"]) - 1 for n, t in live.items() if "fired" in n) == ALERTS
    assert all(len(t["default"]) > 1 for n, t in live.items() if "alerts-" in n)


def test_the_records_are_the_same_for_the_same_range() -> None:
    first = list(state_fill.article_records(500, 900, first_seen=NOW, step=1.0))
    again = list(state_fill.article_records(500, 900, first_seen=NOW, step=1.0))
    assert first == again and [a for a, _ in first] == sorted(a for a, _ in first)
    copies = [r for a, r in first if r[0] != a]
    assert copies and all(len(r[2].split()) <= 2 and r[3] == "" for r in copies)
    assert all(len(r[2].split()) == 16 and r[3] for a, r in first if r[0] == a)
