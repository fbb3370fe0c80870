"""Encryption of the secrets inside alert rules, before they reach Kafka or Elasticsearch.

A rule's webhook secrets and channel URLs (a Slack webhook URL *is* a credential; other
URLs may carry a password or a token in their query) must be readable by the workers
that deliver, and by nobody who can merely read the rules topic.  They are sealed with
Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key kept in
``NEWSFLOW_SECRETS_KEY_FILE`` (default ``<home>/secrets.key``), which every process that
writes or delivers rules shares.

The file is created on first use, 0600 in a 0700 folder, with an exclusive create so two
processes starting together agree on one key.  It may hold several keys, one a line:
the first seals, all open, so a key is rotated by putting a new one first, re-saving the
rules (``newsflow alerts sync`` does not: re-add them), then dropping the old line.  A
key file others may read is refused, like an SSH private key.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from pipeline.core.errors import NewsflowError
from pipeline.core.settings import Settings


class SecretBoxError(NewsflowError, RuntimeError):
    """The key file is unsafe or unreadable, or a sealed value does not open with it."""


class SecretBox:
    """Seal and open short strings; the key file is read (or created) on first use."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._fernet: MultiFernet | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> SecretBox:
        return cls(settings.secrets_key_file or settings.home / "secrets.key")

    def seal(self, plain: str) -> str:
        return self._keys().encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._keys().decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as e:
            raise SecretBoxError(
                f"a sealed secret does not open with the keys in {self.key_file} "
                "(sealed with another NEWSFLOW_SECRETS_KEY_FILE?)"
            ) from e

    def _keys(self) -> MultiFernet:
        if self._fernet is None:
            self._fernet = MultiFernet([Fernet(k) for k in _read_or_create(self.key_file)])
        return self._fernet


def _read_or_create(path: Path) -> list[bytes]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return [_create(path)]
    except OSError as e:
        raise SecretBoxError(f"cannot read the secrets key file {path}: {e.strerror}") from e
    with os.fdopen(fd, "rb") as file:
        mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode)
        if mode & 0o077:
            raise SecretBoxError(
                f"secrets key file {path} is accessible to others (mode {mode:04o}); "
                f"run `chmod 600 {path}`"
            )
        lines = [line.strip() for line in file.read().splitlines()]
    keys = [line for line in lines if line and not line.startswith(b"#")]
    if not keys:
        raise SecretBoxError(f"secrets key file {path} holds no key")
    try:
        for key in keys:
            Fernet(key)
    except ValueError as e:
        raise SecretBoxError(f"secrets key file {path}: a line is not a Fernet key") from e
    return keys


def _create(path: Path) -> bytes:
    """Write a new key beside ``path``, then link it in: never a half-written key file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secrets-key-")  # 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(key + b"\n")
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
    except FileExistsError:  # another process was first: use its key
        return _read_or_create(path)[0]
    finally:
        os.unlink(temporary)
    return key
