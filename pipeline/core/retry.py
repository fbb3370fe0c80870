"""Retry until it works: the one backoff loop of the stream stages.

A stage that cannot hand its output on (Elasticsearch down, the broker unreachable) must not
acknowledge its input, and must not give up either: the batch is retried with exponential
backoff, each wait logged once, until the dependency is back.  Raising instead would let the
stream move on and the batch be lost.

``retry_after_seconds`` reads the wait an HTTP server asks for (webhooks, feeds).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

FIRST_DELAY = 0.5
MAX_DELAY = 30.0
_T = TypeVar("_T")


async def until_done(
    attempt: Callable[[], Awaitable[_T]],
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    what: str,
    log: logging.Logger,
    max_delay: float = MAX_DELAY,
) -> _T:
    """``await attempt()`` until it returns; ``retry_on`` errors wait 0.5 s, 1 s, … ``max_delay``.

    ``what`` names the work in the log line ("index: 12 articles").
    """

    def _log(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: %s; retrying in %.1fs", what, error, delay)

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(retry_on),
        wait=wait_exponential(multiplier=FIRST_DELAY, min=FIRST_DELAY, max=max_delay),
        before_sleep=_log,
        reraise=True,
    )

    async def _attempt() -> _T:  # tenacity awaits only what a coroutine function returns
        return await attempt()

    return await retrying(_attempt)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds an HTTP ``Retry-After`` header asks to wait (delta-seconds or an HTTP date,
    none for a date past), or None when there is none or it is unreadable.  Shared by the
    webhook client and the feed follower."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, not this host's zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
