"""The gate in front of the alert API: who may talk, how much, before anything is parsed.

FastAPI reads and parses a request body before its dependencies run, so a key check done
as a dependency lets anyone make the server read 64 MiB, or learn from a 422 what a
valid body looks like, without a key.  This ASGI middleware answers first:

1. security headers on every answer (no sniffing, no framing, no caching, no referrer;
   a ``default-src 'none'`` policy except on the interactive ``/docs``);
2. a client over its limit of failed attempts gets 429 with ``Retry-After``, without its
   key being looked at (counted per client address, in a sliding window);
3. every path but the public schema and docs needs a valid key (``X-API-Key`` or
   ``Authorization: Bearer``), checked from the headers alone, with the body unread;
4. a body over ``max_body`` bytes gets 413: at once when ``Content-Length`` says so, and
   as soon as the count passes the limit when it is streamed (chunked) without a length.
"""

from __future__ import annotations

import hmac
import json
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
_DOCS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_STRICT_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_MAX_CLIENTS = 10_000  # failure windows kept; the oldest client is forgotten first


class FailedAttempts:
    """Failed key checks per client in the last ``window`` seconds, in bounded memory."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str, now: float) -> float:
        """Seconds until ``client`` may try again; 0 when it may now."""
        times = self._prune(client, now)
        if len(times) < self.limit:
            return 0.0
        return max(1.0, times[0] + self.window - now)

    def fail(self, client: str, now: float) -> None:
        self._prune(client, now).append(now)
        self._seen.move_to_end(client)
        while len(self._seen) > _MAX_CLIENTS:
            self._seen.popitem(last=False)

    def _prune(self, client: str, now: float) -> deque[float]:
        times = self._seen.setdefault(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times


class ApiGate:
    """ASGI middleware; see the module docstring for the order of the checks."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: Sequence[str],
        max_body: int,
        failures: FailedAttempts,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._keys = [key.encode() for key in keys]
        self._max_body = max_body
        self._failures = failures
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path = scope.get("path", "")
        send = _with_headers(send, docs=path in _DOCS)
        if path in PUBLIC_PATHS:
            await self._app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        now = self._clock()
        wait = self._failures.retry_after(client, now)
        if wait:
            await _answer(send, 429, "too many failed attempts: try again later",
                          [(b"retry-after", str(int(wait + 0.999)).encode())])
            return
        if not self._authorised(scope):
            self._failures.fail(client, now)
            await _answer(send, 401, "missing or invalid API key (X-API-Key or "
                          "Authorization: Bearer)", [(b"www-authenticate", b"Bearer")])
            return
        length = _content_length(scope)
        if length is not None and length > self._max_body:
            await _answer(send, 413, f"request body over {self._max_body} bytes")
            return
        await _LimitedBody(self._app, self._max_body)(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"x-api-key":
                given = value.strip()
                break
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                given = value[7:].strip()
        ok = False
        for key in self._keys:  # every key, always: timing says nothing about which
            ok |= hmac.compare_digest(given, key)
        return bool(given) and ok


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _LimitedBody:
    """Counts a streamed body; past the limit, answers 413 and tells the app the client left.

    The app sees ``http.disconnect`` (as if the client hung up) rather than an exception,
    which FastAPI would turn into a 400; whatever it then tries to send is dropped.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit
        self._seen = 0
        self._started = False
        self._answered = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self._seen += len(message.get("body", b""))
                if self._seen > self._limit:
                    if not self._started and not self._answered:
                        self._answered = True
                        await _answer(send, 413, f"request body over {self._limit} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if self._answered:
                return
            self._started = self._started or message["type"] == "http.response.start"
            await send(message)

        await self._app(scope, counted, guarded)


def _with_headers(send: Send, *, docs: bool) -> Send:
    extra = _HEADERS if docs else [*_HEADERS, _STRICT_CSP]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return sending


async def _answer(
    send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), *headers],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
