"""Entries derived from a RocksDB table's records, kept beside them in a column family.

Why: an index over a table (e.g. dedup's band keys → story) that lives in memory must be
rebuilt from every record after a restart, which grows with the table.  Kept in the same
database, written in the same atomic batch as the records it derives from, it is exactly as
current as the table after any crash, and a restart reads nothing of it.

``derive(key, value)`` (raw bytes, as stored) gives a record's entries.  Writing a record
removes the entries its previous value derived and adds its new value's; deleting it removes
them.  An entry is only removed while it still holds the value this record derived, so two
records deriving the same key do not erase each other's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from rocksdict import Options, Rdict, WriteBatch

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
          derive: Derive | None) -> None:
    """Apply ``(key, value or None to delete)`` in order, with their derived entries, as one
    atomic batch."""
    batch = WriteBatch(raw_mode=True)
    if derive is None:
        for key, value in changes:
            _record(batch, key, value)
        db.write(batch)
        return
    derived = db.get_column_family(FAMILY)
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


class View:
    """Reads of one database's derived entries (``get`` and ordered ``scan``)."""

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


def _record(batch: WriteBatch, key: bytes, value: bytes | None) -> None:
    if value is None:
        batch.delete(key)
    else:
        batch.put(key, value)
