"""Worker slots: one per running worker on a host, the lowest free one taken again."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.state_dir import StateDirBusy, claim


def test_workers_get_the_lowest_free_slot_and_a_restart_takes_its_own_back(
    tmp_path: Path,
) -> None:
    first, second = claim(tmp_path), claim(tmp_path)
    assert (first.name, second.name) == ("w0", "w1")
    assert first.path == tmp_path / "w0" and first.path.is_dir()
    (first.path / "table.db").write_text("state")
    first.release()  # the worker ends (the kernel drops the lock however it ends)
    again = claim(tmp_path)
    assert again.name == "w0"
    assert (again.path / "table.db").read_text() == "state"


def test_a_named_slot_held_by_another_worker_is_refused(tmp_path: Path) -> None:
    held = claim(tmp_path, name="reader-1")
    with pytest.raises(StateDirBusy, match="NEWSFLOW_WORKER_ID"):
        claim(tmp_path, name="reader-1")
    held.release()
    assert claim(tmp_path, name="reader-1").name == "reader-1"
