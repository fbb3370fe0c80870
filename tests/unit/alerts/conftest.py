"""A secret box with its own key for each test (rules on the topic carry sealed secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.secretbox import SecretBox


@pytest.fixture
def box(tmp_path: Path) -> SecretBox:
    return SecretBox(tmp_path / "keys" / "secrets.key")
