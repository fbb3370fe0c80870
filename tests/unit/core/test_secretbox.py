"""The key file behind sealed rule secrets: created private, refused when it is not."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from pipeline.core.secretbox import SecretBox, SecretBoxError

pytestmark = pytest.mark.security


def test_the_key_file_is_created_0600_in_a_0700_folder_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "secrets.key"
    box = SecretBox(path)
    assert not path.exists()  # no I/O before the first seal
    sealed = box.seal("whsec_top-secret")
    assert "top-secret" not in sealed
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert SecretBox(path).open(sealed) == "whsec_top-secret"  # another process, same key
    assert [p.name for p in path.parent.iterdir()] == ["secrets.key"]  # no temporary left


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    path.write_bytes(Fernet.generate_key() + b"\n")
    os.chmod(path, 0o644)
    with pytest.raises(SecretBoxError, match="chmod 600"):
        SecretBox(path).seal("x")


def test_rotation_the_first_key_seals_and_every_key_opens(tmp_path: Path) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    path = tmp_path / "secrets.key"
    path.write_bytes(old + b"\n")
    os.chmod(path, 0o600)
    sealed_old = SecretBox(path).seal("before")
    path.write_bytes(new + b"\n" + old + b"\n")
    rotated = SecretBox(path)
    assert rotated.open(sealed_old) == "before"
    assert Fernet(new).decrypt(rotated.seal("after").encode()) == b"after"


def test_another_key_does_not_open(tmp_path: Path) -> None:
    sealed = SecretBox(tmp_path / "a" / "secrets.key").seal("x")
    with pytest.raises(SecretBoxError, match="does not open"):
        SecretBox(tmp_path / "b" / "secrets.key").open(sealed)
