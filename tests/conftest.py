"""Session-wide fixtures: settings and the real local stack (Kafka + Elasticsearch).

The stack is started at most once per test session, through the same code path as
``newsflow stack up``; it is stopped at the end only if this session started it, so a
stack a developer (or another session) already runs is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline import stack as local_stack
from pipeline.config import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[list[local_stack.ServiceStatus]]:
    before = local_stack.status(settings)
    started = not all(row.ready for row in before)
    try:
        rows = local_stack.up(settings) if started else before
    except local_stack.StackError as e:
        pytest.fail(f"local stack did not start: {e}", pytrace=False)
    if not all(row.ready for row in rows):
        pytest.fail(f"local stack not ready: {rows}", pytrace=False)
    yield rows
    if started:
        local_stack.down(settings)
