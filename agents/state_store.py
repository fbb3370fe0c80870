"""Tables on local disk (RocksDB, through ``rocksdict``), each key filed under its changelog
partition.

Why on disk: a worker that restarts with its tables in place reads back only the changelog
records written since its last write (Faust keeps that offset in each partition's
database), instead of every changelog from the start (README "State and horizons").  A
worker whose directory is gone, or that takes over a partition it never held, reads that
changelog from the start, as with tables in memory.

Why a subclass: Faust's RocksDB store files a key under the partition of the *event being
processed*, and reads it from there.  Our tables put a key in another partition than the
event's (the alert tables in their rule's, ``agents.deliver``) or write outside any event
(the digest and horizon timers), which Faust's store refuses.  Here a key's partition is the
one its changelog record goes to: the table's ``partition_for_key``, or else the producer's
default partitioner over the key's bytes, which is what the changelog producer applies.

Derived entries: a table made with ``table_options(derive=...)`` keeps entries derived from
its records (an index) in a column family of the same database, written in the same batch
as the records, from live writes and from changelog records alike
(``pipeline.core.derived``); ``derived(table, partition)`` reads them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.partitioner import murmur2
from faust.stores import STORES
from faust.stores.rocksdb import RocksDBOptions
from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TP, CollectionT, EventT
from rocksdict import (
    BlockBasedIndexType,
    BlockBasedOptions,
    Cache,
    Options,
    Rdict,
    WriteBufferManager,
)

from pipeline.core import derived as derived_entries

log = logging.getLogger("newsflow.state")

# RocksDB's per-database defaults (a 2 GiB block cache, 3 x 64 MiB write buffers) are sized
# for a server with one large table; a worker here opens one database per table partition.
# The block cache is not in here: all databases share one (``_Memory``).
OPTIONS: dict[str, int] = {
    "write_buffer_size": 8 << 20,
    "max_write_buffer_number": 2,
    "target_file_size_base": 32 << 20,
}
SCHEME = "newsflow-rocksdb"


class _Memory:
    """What all of a worker's databases share, so their memory has one bound
    (``NEWSFLOW_STATE_MEMORY_MB``): the block cache, which also holds index and filter blocks
    (by default RocksDB keeps those outside any cache, growing with the data), and is
    charged for the write buffers."""

    def __init__(self, megabytes: int) -> None:
        self.cache = Cache(megabytes << 20)
        self.buffers = WriteBufferManager.new_write_buffer_manager_with_cache(
            (megabytes << 20) // 2, False, self.cache)


_memory = _Memory(64)  # until register() sizes it from the settings


class _BoundedOptions(RocksDBOptions):
    def as_options(self) -> Options:
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_max_open_files(self.max_open_files or -1)
        options.set_write_buffer_size(self.write_buffer_size)
        options.set_max_write_buffer_number(self.max_write_buffer_number)
        options.set_target_file_size_base(self.target_file_size_base)
        options.set_write_buffer_manager(_memory.buffers)
        table = BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, True)
        table.set_index_type(BlockBasedIndexType.binary_search())
        table.set_block_cache(_memory.cache)
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        options.set_block_based_table_factory(table)
        return options


class PartitionedRocksDBStore(RocksDBStore):
    """``faust.stores.rocksdb.Store`` with each key in its changelog partition's database,
    and the table's derived entries beside its records."""

    def __init__(self, url: Any, app: Any, table: CollectionT, *,
                 options: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        options = dict(options or {})
        self.derive: derived_entries.Derive | None = options.pop("derive", None)
        super().__init__(url, app, table, options=options, **kwargs)
        self.rocksdb_options = _BoundedOptions(**dict(self.options or {}), use_rocksdict=True)
        # partition -> (its database, the database's derived column family), kept open:
        # rocksdict flushes a column family's memtable whenever its object is dropped, so
        # one per write made a flush (a small table file and compactions) per write.
        self._families: dict[int, tuple[Rdict, Rdict]] = {}

    def _open_for_partition(self, partition: int) -> Rdict:
        db: Rdict = super()._open_for_partition(partition)
        if self.derive is not None:
            built = derived_entries.family(db, self.rocksdb_options.as_options(), self.derive,
                                           skip=frozenset([self.offset_key]))
            if built:
                log.info("%s[%d]: derived entries built from the %d record(s) already on disk "
                         "(once, for a database written before they existed)",
                         self.table_name, partition, built)
        return db

    def derived_view(self, partition: int) -> derived_entries.View | None:
        """The derived entries of a partition this worker holds, else None."""
        db = self._dbs.get(partition)
        family = self._family(partition, db) if db is not None else None
        return derived_entries.View(family) if family is not None else None

    def _family(self, partition: int, db: Rdict) -> Rdict | None:
        if self.derive is None:
            return None
        kept = self._families.get(partition)
        if kept is None or kept[0] is not db:
            kept = self._families[partition] = (db, db.get_column_family(derived_entries.FAMILY))
        return kept[1]

    def _write(self, partition: int, db: Rdict,
               changes: Iterable[tuple[bytes, bytes | None]]) -> None:
        derived_entries.write(db, changes, self.derive, family=self._family(partition, db))

    def _forget_closed_families(self) -> None:
        # A kept family keeps its database open, with its lock: Faust drops a revoked
        # partition's database from ``_dbs`` and reopens it if the partition comes back.
        for partition, (db, _) in list(self._families.items()):
            if self._dbs.get(partition) is not db:
                del self._families[partition]

    def revoke_partitions(self, table: CollectionT, tps: set[TP]) -> None:
        super().revoke_partitions(table, tps)
        self._forget_closed_families()

    async def stop(self) -> None:
        await super().stop()
        self._forget_closed_families()

    def reset_state(self) -> None:
        super().reset_state()
        self._forget_closed_families()

    def close_databases(self) -> None:
        """Flush and close every open database (tools that write tables outside a worker,
        which then reopen them)."""
        for _, family in self._families.values():
            family.close()
        self._families.clear()
        for db in self._dbs.values():
            db.flush()
            db.close()
        self._dbs.clear()

    def apply_changelog_batch(self, batch: Iterable[EventT], to_key: Any,
                              to_value: Any) -> None:
        changes: defaultdict[int, list[tuple[bytes, bytes | None]]] = defaultdict(list)
        offsets: dict[TP, int] = {}
        for event in batch:
            message = event.message
            offsets[message.tp] = max(message.offset, offsets.get(message.tp, -1))
            changes[message.partition].append((message.key or b"", message.value))
        for partition, records in changes.items():
            self._write(partition, self._db_for_partition(partition), records)
        for tp, offset in offsets.items():
            self.set_persisted_offset(tp, offset)

    def _partition(self, key: bytes) -> int:
        partition: int | None = self.table.partition_for_key(self._decode_key(key))
        if partition is not None:
            return partition
        count = self.table.changelog_topic.partitions or self.app.conf.topic_partitions
        return int((murmur2(key) & 0x7FFFFFFF) % count)

    def _set(self, key: bytes, value: bytes | None) -> None:
        partition = self._partition(key)
        self._key_index[key] = partition
        self._write(partition, self._db_for_partition(partition), [(key, value)])

    def _get(self, key: bytes) -> bytes | None:
        # Only databases of partitions this worker holds are open (Faust opens them on
        # assignment, closes them on revocation): another worker's keys are not ours to read.
        db = self._dbs.get(self._partition(key))
        value: bytes | None = db.get(key) if db is not None else None
        return value

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None

    def _del(self, key: bytes) -> None:
        partition = self._partition(key)
        db = self._dbs.get(partition)
        if db is not None:
            self._write(partition, db, [(key, None)])

    async def assign_partitions(self, table: CollectionT, tps: set[TP],
                                generation_id: int = 0) -> None:
        await super().assign_partitions(table, tps, generation_id)
        for tp in sorted(tps):
            if tp.topic in table.changelog_topic.topics and tp.partition in self._dbs:
                offset = self.persisted_offset(tp)
                log.info("%s[%d]: %s", tp.topic, tp.partition,
                         "no local state: reading the changelog from the start"
                         if offset is None else
                         f"local state up to offset {offset}: reading the changelog after it")


def register(memory_mb: int) -> str:
    """Make ``<SCHEME>://`` name this store for Faust, its databases sharing ``memory_mb``
    of RocksDB memory (``_Memory``); returns the store URL."""
    global _memory
    _memory = _Memory(memory_mb)
    STORES.aliases[SCHEME] = f"{__name__}:{PartitionedRocksDBStore.__name__}"
    return f"{SCHEME}://"


def table_options(derive: derived_entries.Derive | None = None) -> dict[str, Any]:
    """A fresh copy per table: Faust's store pops keys from the mapping it is given.
    ``derive``: the table's derived entries (module doc); other stores ignore it."""
    options: dict[str, Any] = dict(OPTIONS)
    if derive is not None:
        options["derive"] = derive
    return options


def changelog_configs(segment_hours: float) -> dict[str, str]:
    """Topic configs of a table's changelog (``NEWSFLOW_STATE_CHANGELOG_SEGMENT_HOURS``):
    segments roll that often, and compaction keeps tombstones as long (the broker's
    default, a day, at the default setting), which local state older than that must not
    outlive (README "Restarts and local state")."""
    ms = str(round(segment_hours * 3_600_000))
    return {"segment.ms": ms, "delete.retention.ms": ms}


def derived_views(table: CollectionT,
                  partitions: Iterable[int]) -> list[derived_entries.View] | None:
    """The derived entries of those of ``partitions`` this worker holds; None if ``table``'s
    store keeps none (tables in memory)."""
    store = getattr(table, "data", None)
    if not isinstance(store, PartitionedRocksDBStore) or store.derive is None:
        return None
    views = (store.derived_view(partition) for partition in sorted(set(partitions)))
    return [view for view in views if view is not None]


def derived(table: CollectionT, partition: int) -> derived_entries.View | None:
    """The derived entries of ``table``'s partition, if its store keeps them and this worker
    holds the partition; None otherwise (tables in memory)."""
    store = getattr(table, "data", None)
    if isinstance(store, PartitionedRocksDBStore):
        return store.derived_view(partition)
    return None
