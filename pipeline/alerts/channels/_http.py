"""POST to a webhook with retries: the part the webhook and Slack channels share.

Retried: connection errors, timeouts, 5xx, 429 and 408, with exponential backoff and
jitter (a ``Retry-After`` header wins, capped like the backoff). Not retried: other 4xx,
because the same request will meet the same answer, 3xx, because redirects are not
followed, and a refused target. Every connection, retries included, is vetted by the
client's transport (``_transport``). Every attempt sends the same bytes and the same
``Idempotency-Key``, so a receiver that got a request whose answer we lost can drop the
repeat.

The target's reply is never read beyond ``_REPLY_LIMIT`` bytes and never quoted: errors
carry its status code and size only, because they end up in logs and dead letters, and a
rule author must not be able to read an internal service's answers through them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping

import httpx

from pipeline.alerts.channels._transport import VettedTransport
from pipeline.alerts.channels.base import DeliveryError, TargetRefusedError
from pipeline.alerts.channels.targets import Resolver, TargetPolicy, describe
from pipeline.core.retry import retry_after_seconds
from pipeline.core.settings import Settings

_RETRY_STATUSES = frozenset({408, 429})
_USER_AGENT = "newsflow-alerts/0.1"
_REPLY_LIMIT = 64 * 1024


def http_client(settings: Settings, *, resolve: Resolver | None = None) -> httpx.AsyncClient:
    """The one client all HTTP channels of a worker share; its owner closes it.

    ``async with http_client(settings) as http: ...`` in the composition root.  Each new
    connection resolves and vets its host (``settings.webhook.allow_networks`` opens
    private networks); ``resolve`` replaces ``getaddrinfo`` in tests.
    """
    policy = TargetPolicy.from_networks(settings.webhook.allow_networks)
    return httpx.AsyncClient(
        transport=VettedTransport(policy, resolve=resolve),
        timeout=settings.webhook.timeout_seconds,
        follow_redirects=False,
        trust_env=False,
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
    """POST ``body`` until a 2xx, a final refusal, or ``webhook_max_attempts`` attempts.

    Returns the response with at most ``_REPLY_LIMIT`` bytes of its body read.
    """
    target = describe(url)
    attempts = settings.webhook.max_attempts
    for attempt in range(1, attempts + 1):
        retry_after: float | None = None
        try:
            response, size = await _post_once(http, url, body, headers, settings)
        except TargetRefusedError as e:
            raise TargetRefusedError(f"{target}: {e.reason}", kind=kind) from e
        except DeliveryError as e:  # the name did not resolve
            if not e.retryable:
                raise DeliveryError(e.reason, retryable=False, kind=kind, attempts=attempt) from e
            error = DeliveryError(e.reason, retryable=True, kind=kind, attempts=attempt)
            cause: BaseException = e
        except httpx.TimeoutException as e:
            error = DeliveryError(
                f"{target} timed out ({type(e).__name__})",
                retryable=True,
                kind=kind,
                attempts=attempt,
            )
            cause = e
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
            error = _status_error(response, size, target=target, kind=kind, attempt=attempt)
            if not error.retryable:
                raise error
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
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


async def _post_once(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    settings: Settings,
) -> tuple[httpx.Response, str]:
    """One POST; the reply is read up to ``_REPLY_LIMIT`` bytes, its size told as text."""
    request = http.build_request(
        "POST", url, content=body, headers=dict(headers), timeout=settings.webhook.timeout_seconds
    )
    response = await http.send(request, stream=True)
    try:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > _REPLY_LIMIT:
                return response, f"over {_REPLY_LIMIT} bytes"
        return response, f"{read} bytes"
    finally:
        await response.aclose()


def _status_error(
    response: httpx.Response, size: str, *, target: str, kind: str, attempt: int
) -> DeliveryError:
    """Status and size only: the reply's text is the target's, never ours to repeat."""
    status = response.status_code
    retryable = status >= 500 or status in _RETRY_STATUSES
    note = " (redirects are not followed)" if response.is_redirect else ""
    reason = f"{target} answered {status} with {size}{note}"
    return DeliveryError(reason, retryable=retryable, kind=kind, status=status, attempts=attempt)


def _delay(attempt: int, retry_after: float | None, settings: Settings) -> float:
    """Exponential backoff with jitter (half fixed, half random), or the server's wish."""
    cap = settings.webhook.backoff_max_seconds
    if retry_after is not None:
        return min(cap, retry_after)
    ceiling = min(cap, settings.webhook.backoff_seconds * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)
