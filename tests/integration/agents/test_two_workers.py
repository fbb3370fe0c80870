"""Two workers started together on a fresh group share the partitions and lose nothing.

The first worker to join takes every partition, then gives half away when the second
joins.  Faust drops what it fetched while that rebalance settles, and on partitions the
group never committed it does not fetch it again; ``agents.faust_fixes`` does, as soon as
the next message on the partition shows the jump.  The second wave gives every partition
of every topic such a next message (its keys cover all four partitions).
"""

from __future__ import annotations

import pytest

from tests.support import Namespace, article_json

pytestmark = pytest.mark.stack


def test_two_workers_started_together_lose_nothing(namespace: Namespace) -> None:
    namespace.start_worker()
    namespace.start_worker()
    # First wave while the group forms and rebalances, second once it has settled.
    namespace.produce([(f"a-{i:05d}".encode(), article_json(i)) for i in range(24)])
    namespace.wait_for_group(2)
    namespace.produce([(f"b-{i:05d}".encode(), article_json(100 + i)) for i in range(24)])
    assert namespace.wait_for_count(48, timeout=240) == 48, namespace.logs()

    assert sorted(namespace.ids()) == sorted(
        [f"art-{i:05d}" for i in range(24)] + [f"art-{100 + i:05d}" for i in range(24)])
