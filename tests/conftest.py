"""Session-wide fixtures: settings and the real local stack (Kafka + Elasticsearch).

The stack is started at most once per test session, through the same code path as
``newsflow stack up``; it is stopped at the end only if this session started it *and* no
other test session still uses it (each session holds a shared flock on
``<home>/stack/sessions.lock``), so a stack a developer or a concurrent session runs is
left alone.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import stack as local_stack
from pipeline.core.settings import Settings
from pipeline.operations.setup import create_topics, install_indices
from tests.support import Namespace


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[list[local_stack.ServiceStatus]]:
    settings.stack_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    lease = os.fdopen(os.open(settings.stack_dir / "sessions.lock",
                              os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a")
    fcntl.flock(lease, fcntl.LOCK_SH)
    before = local_stack.status(settings)
    started = not all(row.ready for row in before)
    try:
        rows = local_stack.up(settings) if started else before
    except local_stack.StackError as e:
        pytest.fail(f"local stack did not start: {e}", pytrace=False)
    if not all(row.ready for row in rows):
        pytest.fail(f"local stack not ready: {rows}", pytrace=False)
    yield rows
    try:
        fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)  # converts; fails if others hold it
        alone = True
    except BlockingIOError:
        alone = False
    if started and alone:
        local_stack.down(settings)
    lease.close()


@pytest.fixture
def namespace(stack: object, tmp_path: Path) -> Iterator[Namespace]:
    """An isolated pipeline (own topics, indices, consumer group), removed afterwards."""
    ns = Namespace(f"t{uuid.uuid4().hex[:8]}", tmp_path)
    create_topics(ns.settings)
    install_indices(ns.es, ns.settings)
    try:
        yield ns
    finally:
        ns.cleanup()
