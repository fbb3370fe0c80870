"""A worker's tables on local disk: a restart reads only the changelog tail, and a worker
whose state directory is gone recovers everything from the changelog; both give the same
answers (on the real stack)."""

from __future__ import annotations

import shutil

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from pipeline.core.kafka_client import client_kwargs
from tests.integration.stories.test_dedup import OUTLETS, STORY, _copy, _docs, _message
from tests.support import Namespace

pytestmark = pytest.mark.stack

FROM_LOCAL = "dedup-articles-changelog[0]: local state up to offset"
FROM_START = "dedup-articles-changelog[0]: no local state"


def _topic_config(ns: Namespace, topic: str) -> dict[str, str]:
    admin = KafkaAdminClient(**client_kwargs(ns.settings))
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        admin.close()
    return {name: entry["value"] for name, entry in described["topic"][topic].items()}


def _restart(ns: Namespace) -> None:
    ns.stop_all()  # SIGTERM: a clean stop, which also leaves the group
    ns.start_worker()


def test_restart_with_local_state_and_with_the_state_wiped_give_the_same_stories(
    namespace: Namespace,
) -> None:
    ns = namespace
    slot = ns.settings.state_dir / "w0"
    ns.start_worker()
    ns.produce([_message("wire-1", STORY, "Wire")])
    assert ns.wait_for_count(1, timeout=240) == 1, ns.logs()
    assert ns.log_lines(FROM_START) == 1, ns.logs()
    assert any(slot.glob("**/*dedup-articles-0.db")), sorted(slot.rglob("*"))
    # Expired records leave the changelog's disk: segments roll and tombstones go after the
    # setting's time, not the broker's week.
    config = _topic_config(ns, f"{ns.settings.kafka.consumer_group}-dedup-articles-changelog")
    assert config["cleanup.policy"] == "compact"
    assert config["segment.ms"] == config["delete.retention.ms"] == str(
        round(ns.settings.state.changelog_segment_hours * 3_600_000))

    # Restarted in place: its tables come from its directory, only the tail from Kafka.
    _restart(ns)
    (outlet, edits), (other, other_edits) = OUTLETS[0], OUTLETS[1]
    ns.produce([_message("copy-1", _copy(outlet, edits), outlet)])
    assert ns.wait_for_count(2, timeout=240) == 2, ns.logs()
    assert ns.log_lines(FROM_LOCAL) == 1, ns.logs()

    # The directory lost: the next worker reads the whole changelog back.
    ns.stop_all()
    shutil.rmtree(slot)
    ns.start_worker()
    ns.produce([_message("copy-2", _copy(other, other_edits), other)])
    assert ns.wait_for_count(3, timeout=240) == 3, ns.logs()
    assert ns.log_lines(FROM_START) == 2, ns.logs()

    docs = _docs(ns)
    assert docs["wire-1"] == {"story_id": "wire-1", "duplicate_of": None}
    assert docs["copy-1"] == {"story_id": "wire-1", "duplicate_of": "wire-1"}
    assert docs["copy-2"] == {"story_id": "wire-1", "duplicate_of": "wire-1"}


def test_two_workers_on_one_host_hold_two_slots_and_a_restart_takes_its_own_back(
    namespace: Namespace,
) -> None:
    ns = namespace
    first, _ = ns.start_worker(), ns.start_worker()
    ns.wait_for_group(2)
    members = {m["group_instance_id"] for m in ns.group()["members"]}
    assert {name.rsplit("-", 1)[-1] for name in members} == {"w0", "w1"}, members
    ns.kill_worker(first)  # a crash: the slot's lock goes with the process
    ns.start_worker()
    ns.wait_for_group(2)
    assert {m["group_instance_id"] for m in ns.group()["members"]} == members
