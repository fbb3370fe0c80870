"""Entries derived from a RocksDB table's records, kept beside them in a column family.

Why: an index over a table (e.g. dedup's band keys → story) that lives in memory must be
rebuilt from every record after a restart, which grows with the table.  Kept in the same
database, written in the same atomic batch as the records it derives from, it is exactly as
current as the table after any crash, and a restart reads nothing of it.

``derive(key, value)`` (raw bytes, as stored) gives a record's entries.  Writing a record
removes the entries its previous value derived and adds its new value's; deleting it removes
them.  An entry is only removed while it still holds the value this record derived, so two
records deriving the same key do not erase each other's.

Bulk loading (``load``, or ``table_files`` then ``ingest``): millions of new records go in as
sorted table files that RocksDB takes whole, instead of a memtable insert and several
compactions per entry; the database ends as ``write`` of each record in turn would leave it.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rocksdict import IngestExternalFileOptions, Options, Rdict, SstFileWriter, WriteBatch

Derive = Callable[[bytes, bytes], Iterable[tuple[bytes, bytes]]]

FAMILY = "derived"


def family(db: Rdict, options: Options, derive: Derive, *,
           skip: frozenset[bytes] = frozenset()) -> int | None:
    """Make sure the database has its column family of derived entries.  Created on a
    database that already holds records (one written before entries were derived), it is
    filled from them once; returns how many records that took (None: it existed)."""
    if FAMILY in Rdict.list_cf(db.path()):
        return None
    db.create_column_family(FAMILY, options)
    handle = db.get_column_family_handle(FAMILY)
    count, batch = 0, WriteBatch(raw_mode=True)
    for key, value in db.items():
        if key in skip or not isinstance(key, bytes) or not isinstance(value, bytes):
            continue
        for entry, derived_value in derive(key, value):
            batch.put(entry, derived_value, handle)
        count += 1
        if batch.len() >= 100_000:
            db.write(batch)
            batch = WriteBatch(raw_mode=True)
    db.write(batch)
    return count


def write(db: Rdict, changes: Iterable[tuple[bytes, bytes | None]],
          derive: Derive | None, *, family: Rdict | None = None) -> None:
    """Apply ``(key, value or None to delete)`` in order, with their derived entries, as one
    atomic batch.  ``family``: the database's ``FAMILY``, kept open by the caller; without
    it one is made for this call, and rocksdict flushes a column family's memtable when its
    object goes (a small table file and about 2 ms of CPU, per call)."""
    batch = WriteBatch(raw_mode=True)
    if derive is None:
        for key, value in changes:
            _record(batch, key, value)
        db.write(batch)
        return
    derived = family if family is not None else db.get_column_family(FAMILY)
    handle = db.get_column_family_handle(FAMILY)
    records: dict[bytes, bytes | None] = {}  # what this batch has written so far
    entries: dict[bytes, bytes | None] = {}
    for key, value in changes:
        old = records[key] if key in records else db.get(key)
        records[key] = value
        _record(batch, key, value)
        if old == value:
            continue  # the same record again (a replay): its entries are in place
        if old is not None:
            for entry, derived_value in derive(key, old):
                current = entries[entry] if entry in entries else derived.get(entry)
                if current == derived_value:
                    batch.delete(entry, handle)
                    entries[entry] = None
        if value is not None:
            for entry, derived_value in derive(key, value):
                batch.put(entry, derived_value, handle)
                entries[entry] = derived_value
    db.write(batch)


@dataclass(frozen=True)
class TableFiles:
    """Sorted table files of some records (default column family) and of their derived
    entries (``FAMILY``); None where there is nothing to ingest."""

    records: Path | None
    entries: Path | None
    count: int


def table_files(records: Iterable[tuple[bytes, bytes]], derive: Derive | None,
                options: Options, directory: Path) -> TableFiles:
    """Write ``records`` (each key once) and their derived entries as sorted table files in
    ``directory``, built with the database's ``options`` (its filters and block format).
    An entry derived twice keeps the later value, as in ``write``.  Pure of any database,
    so several processes can build files for ``ingest`` at once."""
    directory.mkdir(parents=True, exist_ok=True)
    values: dict[bytes, bytes] = {}
    entries: dict[bytes, bytes] = {}
    for key, value in records:
        if key in values:
            raise ValueError(f"record key {key!r} given twice: a bulk load writes new records")
        values[key] = value
        if derive is not None:
            entries.update(derive(key, value))
    return TableFiles(_sorted_file(values, options, directory, "records"),
                      _sorted_file(entries, options, directory, "entries"), len(values))


def ingest(db: Rdict, files: Iterable[TableFiles]) -> int:
    """Move the files into ``db`` in order (a later file's entries win, as a later write
    does), then compact once, so the database reads as one written record by record and
    compacted.  Automatic compactions are off meanwhile: files that overlap (random keys)
    are merged in one pass at the end rather than again with each file.  Returns how many
    records went in."""
    moving = IngestExternalFileOptions()
    moving.set_move_files(True)
    families = [db] + ([db.get_column_family(FAMILY)] if FAMILY in Rdict.list_cf(db.path())
                       else [])
    for family in families:
        family.set_options({"disable_auto_compactions": "true"})
    count = 0
    try:
        for batch in files:
            if batch.records is not None:
                db.ingest_external_file([str(batch.records)], moving)
            if batch.entries is not None:
                db.get_column_family(FAMILY).ingest_external_file([str(batch.entries)], moving)
            count += batch.count
        for family in families:
            family.compact_range(None, None)
    finally:
        for family in families:
            family.set_options({"disable_auto_compactions": "false"})
    return count


def load(db: Rdict, records: Iterable[tuple[bytes, bytes]], derive: Derive | None,
         options: Options, directory: Path, *, chunk: int = 500_000) -> int:
    """``table_files`` of ``chunk`` records at a time, ingested into ``db`` (which holds none
    of these keys); returns how many records went in."""
    it = iter(records)

    def batches() -> Iterator[TableFiles]:
        for n in itertools.count():
            part = list(itertools.islice(it, chunk))
            if not part:
                return
            yield table_files(part, derive, options, directory / str(n))

    return ingest(db, batches())


def _sorted_file(items: dict[bytes, bytes], options: Options, directory: Path,
                 name: str) -> Path | None:
    if not items:
        return None
    path = directory / f"{name}.sst"
    writer = SstFileWriter(options)
    writer.open(str(path))
    for key in sorted(items):
        writer[key] = items[key]
    writer.finish()
    return path


class Entries(Protocol):
    """Reads of derived entries, as pure code needs them (``View`` on disk)."""

    def get(self, key: bytes) -> bytes | None: ...

    def scan(self, prefix: bytes, *, stop: bytes | None = None,
             ) -> Iterator[tuple[bytes, bytes]]: ...


class View:
    """Reads of one database's derived entries (``get`` and ordered ``scan``), given its
    ``FAMILY`` (kept open: see ``write``)."""

    def __init__(self, derived: Rdict) -> None:
        self._derived = derived

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._derived.get(key)
        return value

    def scan(self, prefix: bytes, *, stop: bytes | None = None,
             ) -> Iterator[tuple[bytes, bytes]]:
        """Entries whose key starts with ``prefix`` (and sorts before ``stop``), in order."""
        it = self._derived.iter()
        it.seek(prefix)
        while it.valid():
            key = it.key()
            if not key.startswith(prefix) or (stop is not None and key >= stop):
                return
            yield key, it.value()
            it.next()


def sortable_time(seconds: float) -> bytes:
    """Unix ``seconds`` as 8 bytes that sort as the times do (µs, big-endian; before 1970
    reads as 1970): the start of an entry key that a ``View.scan`` reads oldest first."""
    return struct.pack(">Q", max(int(seconds * 1_000_000), 0))


def _record(batch: WriteBatch, key: bytes, value: bytes | None) -> None:
    if value is None:
        batch.delete(key)
    else:
        batch.put(key, value)
