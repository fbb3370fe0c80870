"""The feed follower's HTTP transport: it connects only to addresses it has just vetted.

A feed's entries name the pages ``--full-text`` fetches, so whoever writes a feed chooses
URLs the follower will request; redirects choose more.  Checking a name before the request
leaves a window: the name can answer a public address to the check and ``127.0.0.1`` to
the connection (DNS rebinding), and a redirect is never checked at all.  Here the lookup is
the connection's own (as ``pipeline.alerts.channels._transport`` does for webhooks):
httpcore asks the network backend to ``connect_tcp(host, port)``; the backend resolves the
host, refuses unless every address is public, and connects to one of those very addresses.
The URL is untouched, so ``Host``, TLS SNI and certificate checks keep the hostname.

The one host that may be private is the feed's own (``trusted_host``, set by ``poll_feed``
for the thread polling it): an operator subscribes to it by name, on-premises feeds
included.  ``NEWSFLOW_FEEDS_ALLOW_PRIVATE_PAGES`` lifts the check for every host.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpcore
import httpx

from pipeline.alerts.channels.targets import address_problem

_TRUSTED_HOST: ContextVar[str | None] = ContextVar("newsflow_feed_host", default=None)


@contextmanager
def trusted_host(host: str) -> Iterator[None]:
    """While inside, connections to ``host`` (the feed being polled) skip the check."""
    token = _TRUSTED_HOST.set(host.lower())
    try:
        yield
    finally:
        _TRUSTED_HOST.reset(token)


def refusal(host: str, addresses: Iterable[str]) -> str | None:
    """Why ``host`` (resolved to ``addresses``) must not be fetched, or None."""
    for address in addresses:
        problem = address_problem(ipaddress.ip_address(address.split("%", 1)[0]))
        if problem:
            return f"{host} is a {problem} address"
    return None


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _VettingBackend(httpcore.NetworkBackend):
    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _resolve(host, port)
        except OSError as e:
            raise httpcore.ConnectError(f"cannot resolve {host}: {e.strerror or e}") from e
        trusted = self._allow_private or host.lower() == _TRUSTED_HOST.get()
        problem = None if trusted else refusal(host, addresses)
        if problem:
            raise httpcore.ConnectError(f"{problem}: refused")
        error: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return self._inner.connect_tcp(address, port, timeout=timeout,
                                               local_address=local_address,
                                               socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not feeds")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class VettedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose every new connection goes through the vetting backend.

    httpx has no public switch for the network backend, so the httpcore pool is built
    again with httpx's defaults plus ``network_backend``; the constructor fails if the
    private ``_pool`` it replaces ever disappears (httpx and httpcore are pinned).
    Environment proxies are not used: the address vetted must be the address connected to.
    """

    def __init__(self, *, allow_private: bool) -> None:
        super().__init__(trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError(f"httpx {httpx.__version__} no longer keeps its pool in "
                               "HTTPTransport._pool: pipeline/ingest/feeds/transport.py "
                               "needs updating")
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_VettingBackend(allow_private=allow_private),
        )
