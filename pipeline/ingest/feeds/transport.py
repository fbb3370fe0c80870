"""The feed follower's HTTP transport: it connects only to addresses it has just vetted.

A feed's entries name the pages ``--full-text`` fetches, so whoever writes a feed chooses
URLs the follower will request; redirects choose more.  Checking a name before the request
leaves a window: the name can answer a public address to the check and ``127.0.0.1`` to
the connection (DNS rebinding), and a redirect is never checked at all.  Here the lookup is
the connection's own, as for webhooks (``pipeline.alerts.channels._transport``), with the
same decision (``targets.vet_host_sync``): httpcore asks the network backend to
``connect_tcp(host, port)``; the backend resolves the host, refuses unless every address
passes the policy, and connects to one of those very addresses.  The URL is untouched, so
``Host``, TLS SNI and certificate checks keep the hostname.

The policy is "public addresses only", except for the feed's own host (``trusted_host``,
set by ``poll_feed`` for the thread polling it): an operator subscribes to it by name,
on-premises feeds included, so it may be on any network.
``NEWSFLOW_FEEDS_ALLOW_PRIVATE_PAGES`` opens every network to every host.  Cloud metadata
addresses stay refused whatever the host (``targets.METADATA_ADDRESSES``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import urlsplit

import httpcore
import httpx

from pipeline.alerts.channels.base import DeliveryError
from pipeline.alerts.channels.targets import ANY_NETWORK, TargetPolicy, vet_host_sync

_HINT = "to fetch pages on private networks, set NEWSFLOW_FEEDS_ALLOW_PRIVATE_PAGES=true"
_PUBLIC = TargetPolicy(hint=_HINT)
_ANY = TargetPolicy.from_networks(ANY_NETWORK, hint=_HINT)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRUSTED_HOST: ContextVar[str | None] = ContextVar("newsflow_feed_host", default=None)


@contextmanager
def trusted_host(host: str) -> Iterator[None]:
    """While inside, ``host`` (the feed being polled) may be on any network but metadata."""
    token = _TRUSTED_HOST.set(host.lower())
    try:
        yield
    finally:
        _TRUSTED_HOST.reset(token)


def refusal(url: str, *, allow_private: bool) -> str | None:
    """Why the transport would refuse to connect to ``url``'s host now, or None: a first
    answer with a clear reason (the transport decides again when it connects)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        vet_host_sync(host, parts.port or _DEFAULT_PORTS.get(parts.scheme, 80),
                      policy=_policy(host, allow_private=allow_private))
    except DeliveryError as e:
        return e.reason
    return None


def _policy(host: str, *, allow_private: bool) -> TargetPolicy:
    return _ANY if allow_private or host.lower() == _TRUSTED_HOST.get() else _PUBLIC


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
            addresses = vet_host_sync(host, port, policy=_policy(
                host, allow_private=self._allow_private))
        except DeliveryError as e:
            raise httpcore.ConnectError(e.reason) from e
        error: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return self._inner.connect_tcp(str(address), port, timeout=timeout,
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
