"""Two workers started together on a fresh group share the partitions and lose nothing.

The first worker to join takes every partition, then gives half away when the second
joins.  Articles published while that rebalance runs used to be fetched into an agent's
queue and cleared by Faust's recovery (``agents.faust_fixes``); on a fresh group nothing
fetched them again, so the run stalled short of the count.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.integration.conftest import Namespace, article_json

pytestmark = pytest.mark.stack

_ENRICHED = re.compile(r"enrich: (\d+) enriched")


def _enriched_by_each(namespace: Namespace) -> list[int]:
    logs = sorted(namespace.tmp.glob("worker-*.log"))
    return [sum(int(n) for n in _ENRICHED.findall(log.read_text())) for log in logs]


def test_two_workers_started_together_both_process_everything(namespace: Namespace) -> None:
    namespace.start_worker()
    namespace.start_worker()
    # First wave while the group forms and rebalances, second once both workers are in.
    time.sleep(2)
    first = [(f"a-{i:05d}".encode(), article_json(i)) for i in range(24)]
    namespace.produce(first)
    assert namespace.wait_for_count(24, timeout=40) == 24, namespace.logs()
    second = [(f"b-{i:05d}".encode(), article_json(100 + i)) for i in range(24)]
    namespace.produce(second)
    assert namespace.wait_for_count(48, timeout=20) == 48, namespace.logs()

    assert sorted(namespace.ids()) == sorted(
        [f"art-{i:05d}" for i in range(24)] + [f"art-{100 + i:05d}" for i in range(24)])
    per_worker = _enriched_by_each(namespace)
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker), per_worker
