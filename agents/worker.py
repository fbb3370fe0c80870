"""Start a Faust worker with every agent registered."""

from __future__ import annotations

import logging

import faust

from agents import dedup, enrich, index  # noqa: F401  (importing registers the agents)
from agents.app import app


def run_worker(*, loglevel: str = "info") -> None:
    """Run until SIGTERM/SIGINT; workers with the same group share the partitions."""
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    # The ES client logs every failed connection with a traceback; the index agent
    # already says, once per retry, that Elasticsearch is unavailable.
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    worker.execute_from_commandline()
