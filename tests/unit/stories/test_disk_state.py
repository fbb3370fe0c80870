"""DiskStoryState: the band index as entries derived beside the records in RocksDB.

The records are written the way the worker's store writes them (``pipeline.core.derived``,
JSON bytes), so these tests cover what a restart finds on disk: the same decisions, no
rebuild, and the horizon removing every entry a forgotten story had.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from rocksdict import Options, Rdict

from pipeline.core import derived
from pipeline.stories.dedup import fingerprint
from pipeline.stories.state import ArticleRecord, DiskStoryState, StoryState, index_entries
from tests.unit.stories.test_dedup import COPIES, UNRELATED, WIRE

DAY = 86400.0
T0 = 1_700_000_000.0
_OFFSET = b"__faust\0offset__"  # Faust's own key in a table's database


def _entries(key: bytes, value: bytes) -> Iterable[tuple[bytes, bytes]]:
    return index_entries(json.loads(key), json.loads(value))


class _Table:
    """A table's partition database as the worker's store keeps it (records in JSON)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = self._open()

    def _open(self) -> Rdict:
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        db = Rdict(str(self.path), options=options)
        derived.family(db, Options(raw_mode=True), _entries, skip=frozenset([_OFFSET]))
        return db

    def reopen(self) -> None:
        """A restarted worker: the same files, nothing in memory."""
        self.db.close()
        self.db = self._open()

    def get(self, article_id: str) -> ArticleRecord | None:
        value = self.db.get(json.dumps(article_id).encode())
        return json.loads(value) if value is not None else None

    def __setitem__(self, article_id: str, record: ArticleRecord | None) -> None:
        value = json.dumps(record).encode() if record is not None else None
        derived.write(self.db, [(json.dumps(article_id).encode(), value)], _entries)

    def keys(self) -> Iterator[str]:
        return (json.loads(key) for key, _ in self.db.items())

    def derived_entries(self) -> dict[bytes, bytes]:
        return dict(self.db.get_column_family(derived.FAMILY).items())

    def state(self) -> DiskStoryState:
        view = derived.View(self.db.get_column_family(derived.FAMILY))
        return DiskStoryState(view, self)  # type: ignore[arg-type]  # get() is all it reads


def _run(table: _Table, article_id: str, text: str, seen_at: float) -> tuple[str, str | None]:
    """What the agent does per article: assign, then write the record (or the recorded one)."""
    recorded = table.get(article_id)
    decision, record = table.state().assign(article_id, fingerprint(text), seen_at=seen_at,
                                            recorded=recorded)
    table[article_id] = record if record is not None else recorded
    return decision.story_id, decision.duplicate_of


def test_decisions_on_disk_match_the_index_in_memory(tmp_path: Path) -> None:
    table, memory, records = _Table(tmp_path / "db"), StoryState(), {}
    stream = [("wire-1", WIRE)] + [(f"copy-{i}", t) for i, t in enumerate(COPIES)] + [
        (f"other-{i}", t) for i, t in enumerate(UNRELATED)] + [("copy-x", UNRELATED[2])]
    for n, (article_id, text) in enumerate(stream):
        on_disk = _run(table, article_id, text, T0 + n)
        decision, record = memory.assign(article_id, fingerprint(text), seen_at=T0 + n)
        records[article_id] = record
        assert on_disk == (decision.story_id, decision.duplicate_of)
    assert _run(table, "copy-x", UNRELATED[2], T0 + 99) == ("other-2", "other-2")
    assert sorted(table.keys()) == sorted(records)
    # the band entries are exactly the in-memory index
    bands = {k[1:].decode(): v.decode() for k, v in table.derived_entries().items()
             if k.startswith(b"b")}
    assert len(bands) == memory.band_count
    assert bands == dict(StoryState(records)._bands)  # the reference


def test_a_restart_decides_from_disk_with_nothing_rebuilt(tmp_path: Path) -> None:
    table = _Table(tmp_path / "db")
    _run(table, "wire-1", WIRE, T0)
    _run(table, "copy-0", COPIES[0], T0 + 1)
    _run(table, "other-0", UNRELATED[0], T0 + 2)
    before = table.derived_entries()
    table.reopen()
    assert table.derived_entries() == before
    assert _run(table, "copy-1", COPIES[1], T0 + 10) == ("wire-1", "wire-1")
    assert _run(table, "other-copy", UNRELATED[0], T0 + 11) == ("other-0", "other-0")
    assert _run(table, "other-1", UNRELATED[1], T0 + 12) == ("other-1", None)


def test_a_replay_writes_the_same_record_and_changes_no_entry(tmp_path: Path) -> None:
    table = _Table(tmp_path / "db")
    _run(table, "wire-1", WIRE, T0)
    _run(table, "copy-0", COPIES[0], T0 + 1)
    before = table.derived_entries()
    assert _run(table, "wire-1", WIRE, T0 + 50) == ("wire-1", None)
    assert _run(table, "copy-0", COPIES[0], T0 + 51) == ("wire-1", "wire-1")
    assert table.derived_entries() == before


def test_changelog_records_in_one_batch_derive_what_live_writes_do(tmp_path: Path) -> None:
    live = _Table(tmp_path / "live")
    for n, (article_id, text) in enumerate([("wire-1", WIRE), ("copy-0", COPIES[0]),
                                            ("other-0", UNRELATED[0])]):
        _run(live, article_id, text, T0 + n)
    changelog: list[tuple[bytes, bytes | None]] = list(live.db.items())
    # a worker without local state reads the changelog; a record and its deletion can
    # both be in one batch, and a record can come twice
    changelog += [(json.dumps("other-0").encode(), None), changelog[0]]
    recovered = _Table(tmp_path / "recovered")
    derived.write(recovered.db, changelog, _entries)
    live["other-0"] = None
    assert recovered.derived_entries() == live.derived_entries()
    assert not any(b"other-0" in k + v for k, v in recovered.derived_entries().items())


def test_stories_past_the_horizon_go_whole_with_every_entry(tmp_path: Path) -> None:
    table = _Table(tmp_path / "db")
    _run(table, "wire-1", WIRE, T0)
    _run(table, "copy-0", COPIES[0], T0 + 5 * DAY)
    _run(table, "other-0", UNRELATED[0], T0 + 10 * DAY)
    kept_entries = {k for k, _ in index_entries("other-0", table.get("other-0") or [])}

    assert table.state().expire(now=T0 + 14 * DAY, horizon=14 * DAY) == []  # at the horizon
    gone = table.state().expire(now=T0 + 15 * DAY, horizon=14 * DAY)
    assert sorted(gone) == ["copy-0", "wire-1"]  # the story goes whole, copies included
    for article_id in gone:
        table[article_id] = None
    assert set(table.derived_entries()) == kept_entries
    assert table.state().expire(now=T0 + 15 * DAY, horizon=14 * DAY) == []

    # a copy published after the horizon starts a story of its own
    assert _run(table, "copy-2", COPIES[2], T0 + 15 * DAY) == ("copy-2", None)
    assert _run(table, "other-1", UNRELATED[0], T0 + 15 * DAY) == ("other-0", "other-0")


def test_expiry_takes_a_limited_number_per_call(tmp_path: Path) -> None:
    table = _Table(tmp_path / "db")
    for i, text in enumerate(UNRELATED):
        _run(table, f"other-{i}", text, T0 + i)
    first = table.state().expire(now=T0 + 20 * DAY, horizon=14 * DAY, limit=1)
    assert first == ["other-0"]
    for article_id in first:
        table[article_id] = None
    assert table.state().expire(now=T0 + 20 * DAY, horizon=14 * DAY) == ["other-1", "other-2"]


def test_a_database_written_before_derived_entries_gets_them_once(tmp_path: Path) -> None:
    table = _Table(tmp_path / "db")
    _run(table, "wire-1", WIRE, T0)
    _run(table, "copy-0", COPIES[0], T0 + 1)
    expected = table.derived_entries()
    table.db.drop_column_family(derived.FAMILY)  # as the previous version left it
    table.db.put(_OFFSET, b"41")  # not a record: no entries
    table.reopen()
    assert table.derived_entries() == expected
    assert _run(table, "copy-1", COPIES[1], T0 + 2) == ("wire-1", "wire-1")
