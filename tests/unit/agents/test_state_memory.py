"""A worker's RocksDB memory stays within ``NEWSFLOW_STATE_MEMORY_MB`` as its state grows.

Faust's own options give every database its own block cache and keep index and filter blocks
outside any cache, in memory that grows with the data (a 14-day dedup state is ~14 M records);
``agents.state_store`` shares one cache that holds them and is charged for the write buffers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from faust.stores.rocksdb import RocksDBOptions
from rocksdict import Rdict, WriteBatch

from agents import state_store
from pipeline.core.settings import Settings

_RECORDS = 400_000


@pytest.fixture
def budget() -> Iterator[int]:
    state_store.register(16)
    yield 16 << 20
    state_store.register(Settings().state.memory_mb)


def _fill_and_read(db: Rdict) -> None:
    keys = [os.urandom(12) for _ in range(_RECORDS)]
    for start in range(0, _RECORDS, 50_000):
        batch = WriteBatch(raw_mode=True)
        for key in keys[start:start + 50_000]:
            batch.put(key, b"v" * 40)
        db.write(batch)
    db.flush()
    for key in keys[::7]:
        db.get(key)


def _index_and_filter_outside_cache(db: Rdict) -> int:
    return int(db.property_int_value("rocksdb.estimate-table-readers-mem") or 0)


def test_index_and_filter_blocks_live_in_the_shared_cache(tmp_path: Path, budget: int) -> None:
    ours = state_store._BoundedOptions(**state_store.OPTIONS).open(tmp_path / "ours")
    faust = RocksDBOptions(**state_store.OPTIONS).open(tmp_path / "faust")
    _fill_and_read(ours)
    _fill_and_read(faust)

    outside_faust = _index_and_filter_outside_cache(faust)
    assert outside_faust > 100_000  # grows with the records: ~0.6 bytes each here
    assert _index_and_filter_outside_cache(ours) < outside_faust / 20
    cached = int(ours.property_int_value("rocksdb.block-cache-usage") or 0)
    assert 0 < cached <= budget
    ours.close()
    faust.close()


def test_write_buffers_are_charged_to_the_budget(tmp_path: Path, budget: int) -> None:
    db = state_store._BoundedOptions(**state_store.OPTIONS).open(tmp_path / "db")
    batch = WriteBatch(raw_mode=True)
    for _ in range(50_000):
        batch.put(os.urandom(12), b"v" * 40)
    db.write(batch)
    used = state_store._memory.buffers.get_usage()
    assert 0 < used <= budget // 2
    db.close()
