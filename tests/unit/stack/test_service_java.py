"""Elasticsearch runs as its own user: it can only run a JDK it can reach."""

from __future__ import annotations

from pathlib import Path

from pipeline.stack.elasticsearch import _open_to_others


def test_a_jdk_under_a_private_folder_is_not_open_to_others(tmp_path: Path) -> None:
    private = tmp_path / "home"
    jdk = private / "venv" / "jdk"
    jdk.mkdir(parents=True)
    private.chmod(0o700)
    assert not _open_to_others(jdk)
    private.chmod(0o711)
    tmp_path.chmod(0o711)
    assert _open_to_others(jdk) == all(p.stat().st_mode & 0o001 for p in tmp_path.parents)


def test_a_system_jdk_folder_is_open_to_others() -> None:
    assert _open_to_others(Path("/usr/lib"))
