"""Static members of the workers' consumer group: leaving on purpose.

A worker joins with a fixed ``group.instance.id`` (Kafka static membership, KIP-345), so a
crashed worker that restarts takes its partitions back without a rebalance.  The price: a
static member never leaves by itself, and a worker that stops for good would hold its
partitions, unprocessed, until its session times out.  So a worker that stops cleanly
removes itself from the group (LeaveGroup by instance id), and its partitions move at once.
"""

from __future__ import annotations

import logging

from kafka.admin import MemberToRemove
from kafka.errors import KafkaError

from pipeline.core.settings import Settings
from pipeline.operations.offsets import admin_client

log = logging.getLogger("newsflow.membership")


def leave_group(settings: Settings, instance_id: str, *, timeout: float = 10.0) -> bool:
    """Remove the static member ``instance_id`` from the workers' group; False (logged) if
    the broker could not be asked: the member then leaves when its session times out."""
    try:
        admin = admin_client(settings, timeout=timeout)
    except KafkaError as e:
        log.warning("could not leave group %s as %s: %s", settings.kafka.consumer_group,
                    instance_id, e)
        return False
    try:
        errors = admin.remove_group_members(settings.kafka.consumer_group,
                                            [MemberToRemove(group_instance_id=instance_id)])
    except KafkaError as e:
        log.warning("could not leave group %s as %s: %s", settings.kafka.consumer_group,
                    instance_id, e)
        return False
    finally:
        admin.close()
    error = next(iter(errors.values()), None)
    if error is not None and error.__name__ not in {"NoError", "UnknownMemberIdError"}:
        log.warning("could not leave group %s as %s: %s", settings.kafka.consumer_group,
                    instance_id, error.__name__)
        return False
    log.info("left group %s as %s", settings.kafka.consumer_group, instance_id)
    return True
