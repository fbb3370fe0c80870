"""Start a Faust worker with every agent registered."""

from __future__ import annotations

import asyncio
import logging
import socket

import faust

# importing registers the agents (observe: /metrics and the consumer-lag timer)
from agents import (  # noqa: F401
    alerts,
    dedup,
    deliver,
    enrich,
    faust_fixes,
    faust_idle,
    index,
    observe,
)
from agents.app import app, close_services, settings, start_services
from pipeline.core import state_dir
from pipeline.operations.logs import logging_config, quiet_libraries
from pipeline.operations.membership import leave_group

log = logging.getLogger("newsflow.worker")


def run_worker(*, loglevel: str = "info") -> None:
    """Run until SIGTERM/SIGINT; workers with the same group share the partitions.

    The worker first claims its state slot (``pipeline.core.state_dir``): its tables'
    directory and its static identity in the group.

    Raises:
        FaustIncompatible: the installed Faust lacks what ``agents.faust_fixes`` patches.
        StateDirBusy: NEWSFLOW_WORKER_ID is held by another worker on this host.
    """
    faust_fixes.install()
    faust_idle.install()
    slot = state_dir.claim(settings.state_dir, name=settings.state.worker_id)
    app.conf.datadir = slot.path
    instance_id = settings.state.worker_id or f"{socket.gethostname()}-{slot.name}"
    app.conf.consumer_group_instance_id = instance_id
    worker = faust.Worker(
        app, loglevel=loglevel, quiet=True,
        # text keeps Faust's own (coloured) format; json replaces it with one object a line
        logging_config=(logging_config(fmt="json", level=loglevel)
                        if settings.log_format == "json" else None),
    )
    # The ES client logs every failed connection with a traceback; the index agent
    # already says, once per retry, that Elasticsearch is unavailable.
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    quiet_libraries()
    # Models load before the worker joins the group: an agent that spends its first seconds
    # loading them while the group rebalances around it never resumed its stream (two
    # workers started together stalled one of them).

    @app.task
    async def _say_where() -> None:  # once logging is set up
        log.info("worker %s: state in %s (%s tables)", instance_id, slot.path,
                 settings.state.store)

    asyncio.run(start_services())
    try:
        worker.execute_from_commandline()
    finally:
        # Stopped (a crash never gets here): leave at once rather than at the session timeout.
        leave_group(settings, instance_id)
        asyncio.run(close_services())
        slot.release()
