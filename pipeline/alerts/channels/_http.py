"""POST to a webhook with retries: the part the webhook and Slack channels share.

Retried: connection errors, timeouts, 5xx, 429 and 408, with exponential backoff and
jitter (a ``Retry-After`` header wins, capped like the backoff). Not retried: other 4xx,
because the same request will meet the same answer, and 3xx, because redirects are not
followed (a redirect to a private address would slip past ``targets.check_target``).
Every attempt sends the same bytes and the same ``Idempotency-Key``, so a receiver that
got a request whose answer we lost can drop the repeat.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from pipeline.alerts.channels.base import DeliveryError
from pipeline.alerts.channels.targets import check_target, describe
from pipeline.core.settings import Settings

_RETRY_STATUSES = frozenset({408, 429})
_USER_AGENT = "newsflow-alerts/0.1"


def http_client(settings: Settings) -> httpx.AsyncClient:
    """The one client all HTTP channels of a worker share; its owner closes it.

    ``async with http_client(settings) as http: ...`` in the composition root.
    """
    return httpx.AsyncClient(
        timeout=settings.webhook.timeout_seconds,
        follow_redirects=False,
        headers={"User-Agent": _USER_AGENT},
    )


async def post(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    settings: Settings,
    kind: str,
) -> httpx.Response:
    """POST ``body`` until a 2xx, a final refusal, or ``webhook_max_attempts`` attempts."""
    await check_target(url, allow_private=settings.webhook.allow_private, kind=kind)
    target = describe(url)
    attempts = settings.webhook.max_attempts
    for attempt in range(1, attempts + 1):
        retry_after: float | None = None
        try:
            response = await http.post(
                url, content=body, headers=dict(headers), timeout=settings.webhook.timeout_seconds
            )
        except httpx.TimeoutException as e:
            error = DeliveryError(
                f"{target} timed out ({type(e).__name__})",
                retryable=True,
                kind=kind,
                attempts=attempt,
            )
            cause: BaseException = e
        except httpx.TransportError as e:
            error = DeliveryError(
                f"{target} unreachable: {type(e).__name__}: {e}",
                retryable=True,
                kind=kind,
                attempts=attempt,
            )
            cause = e
        else:
            if response.is_success:
                return response
            error = _status_error(response, target=target, kind=kind, attempt=attempt)
            if not error.retryable:
                raise error
            retry_after = _retry_after(response.headers.get("Retry-After"))
            cause = error
        if attempt < attempts:
            await asyncio.sleep(_delay(attempt, retry_after, settings))
    raise DeliveryError(
        f"gave up after {attempts} attempt(s): {error.reason}",
        retryable=True,
        kind=kind,
        status=error.status,
        attempts=attempts,
    ) from cause


def _status_error(
    response: httpx.Response, *, target: str, kind: str, attempt: int
) -> DeliveryError:
    status = response.status_code
    retryable = status >= 500 or status in _RETRY_STATUSES
    if response.is_redirect:
        reason = f"{target} answered {status} (redirects are not followed)"
    else:
        snippet = " ".join(response.text[:200].split())
        reason = f"{target} answered {status}" + (f": {snippet}" if snippet else "")
    return DeliveryError(reason, retryable=retryable, kind=kind, status=status, attempts=attempt)


def _delay(attempt: int, retry_after: float | None, settings: Settings) -> float:
    """Exponential backoff with jitter (half fixed, half random), or the server's wish."""
    cap = settings.webhook.backoff_max_seconds
    if retry_after is not None:
        return min(cap, retry_after)
    ceiling = min(cap, settings.webhook.backoff_seconds * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
