"""Bulk loading (``derived.load``): sorted files ingested whole leave a database exactly as
``derived.write`` of each record in turn does, including an entry that several records
derive (the last one written wins) and files whose key ranges overlap."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from rocksdict import Options, Rdict

from pipeline.core import derived


def _derive(key: bytes, value: bytes) -> Iterable[tuple[bytes, bytes]]:
    yield b"latest", key  # every record derives it: the last one written must win
    yield b"v" + value, key


def _open(path: Path) -> Rdict:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    db = Rdict(str(path), options=options)
    derived.family(db, Options(raw_mode=True), _derive)
    return db


def _contents(db: Rdict) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
    return dict(db.items()), dict(db.get_column_family(derived.FAMILY).items())


def test_a_bulk_load_leaves_what_writing_each_record_leaves(tmp_path: Path) -> None:
    # keys in no order, so the chunks' files overlap and are merged
    records = [(f"k{(i * 7) % 20:02d}".encode(), f"{i % 5}".encode()) for i in range(20)]
    written, loaded = _open(tmp_path / "written"), _open(tmp_path / "loaded")
    for key, value in records:
        derived.write(written, [(key, value)], _derive)

    count = derived.load(loaded, records, _derive, Options(raw_mode=True), tmp_path / "files",
                         chunk=6)

    assert count == 20
    assert _contents(loaded) == _contents(written)
    assert loaded.get_column_family(derived.FAMILY)[b"latest"] == records[-1][0]
    assert loaded.get_column_family(derived.FAMILY)[b"v0"] == b"k05"  # i = 15, the last of value 0
    loaded.close()
    reopened = _open(tmp_path / "loaded")
    assert _contents(reopened) == _contents(written)


def test_a_bulk_load_refuses_a_key_given_twice(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="given twice"):
        derived.table_files([(b"a", b"1"), (b"a", b"2")], _derive, Options(raw_mode=True),
                            tmp_path)
