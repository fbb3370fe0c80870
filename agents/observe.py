"""The worker's own observability: the ``/metrics`` endpoint and the consumer-lag gauge.

The metrics server must never stop ingestion: a port already taken (two workers on one
host with the same ``NEWSFLOW_METRICS_PORT``) is logged and the worker runs on without it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from agents.app import app, settings
from pipeline.operations.metrics import RefetchCounter, set_lag, start_metrics_server
from pipeline.operations.offsets import admin_client, consumed_topics, group_offsets

log = logging.getLogger("newsflow.observe")
# newsflow_refetches_total: counted from agents.faust_fixes' re-fetch warnings
logging.getLogger("newsflow.faust").addFilter(RefetchCounter())


class _LagReader:
    """One admin connection, opened on first use (off the event loop), reopened after errors."""

    def __init__(self) -> None:
        self._admin: KafkaAdminClient | None = None

    def read(self) -> list[tuple[str, int, int]]:
        if self._admin is None:
            self._admin = admin_client(settings)
        try:
            rows = group_offsets(
                self._admin, settings.kafka.consumer_group, consumed_topics(settings))
        except KafkaError:
            self.close()
            raise
        return [(row.topic, row.partition, row.lag) for row in rows]

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None


_lag_reader = _LagReader()


@app.task
async def serve_metrics() -> None:
    try:
        start_metrics_server(settings.metrics.port, addr=settings.metrics.host)
    except OSError as e:
        log.error("metrics: cannot listen on port %d (%s); set NEWSFLOW_METRICS_PORT to a "
                  "free port per worker, or 0 for any; running without /metrics",
                  settings.metrics.port, e)


@app.timer(interval=settings.metrics.lag_seconds)
async def update_lag() -> None:
    try:
        set_lag(await asyncio.to_thread(_lag_reader.read))
    except (KafkaError, OSError) as e:
        log.warning("metrics: consumer lag not updated: %s", e)


@app.on_before_shutdown.connect  # type: ignore[arg-type]  # mypy cannot match it to mode's SignalHandlerT union
async def _close_lag_reader(app: Any, *args: Any, **kwargs: Any) -> None:
    await asyncio.to_thread(_lag_reader.close)
