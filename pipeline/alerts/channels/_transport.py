"""An httpx transport that connects only to addresses it has just vetted.

httpx resolves a host when it opens a connection, so checking the name beforehand leaves
a window: a DNS answer with a short TTL can be public for the check and ``127.0.0.1`` for
the connection (rebinding), and every retry resolves again.  Here the lookup *is* the
connection's: httpcore asks its network backend to ``connect_tcp(host, port)``, and our
backend resolves the host, refuses unless every address passes the ``TargetPolicy``, and
connects to one of those very addresses.  The URL is untouched, so the ``Host`` header,
TLS SNI and certificate verification all keep the hostname.

httpx has no public switch for the network backend (``AsyncHTTPTransport`` builds its
httpcore pool itself), so :class:`VettedTransport` builds that pool again with the same
options plus ``network_backend``; :func:`_check_httpx` fails at start-up if the private
``_pool`` attribute it replaces ever disappears (written against httpx 0.29 and
httpcore 1.0; pinned in pyproject.toml).
Environment proxies are not used: the address vetted must be the address connected to.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpcore
import httpx

from pipeline.alerts.channels.targets import Resolver, TargetPolicy, vet_host


class VettingBackend(httpcore.AsyncNetworkBackend):
    """Resolve, vet, then connect to a vetted address (the first that answers)."""

    def __init__(self, policy: TargetPolicy, *, resolve: Resolver | None = None) -> None:
        self._policy = policy
        self._resolve = resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await vet_host(host, port, policy=self._policy, resolve=self._resolve)
        error: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        assert error is not None  # vet_host returns at least one address
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class VettedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose every new connection goes through VettingBackend."""

    def __init__(self, policy: TargetPolicy, *, resolve: Resolver | None = None) -> None:
        super().__init__(trust_env=False)
        _check_httpx(self)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=VettingBackend(policy, resolve=resolve),
        )


def _check_httpx(transport: httpx.AsyncHTTPTransport) -> None:
    if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        raise RuntimeError(
            f"httpx {httpx.__version__} no longer keeps its pool in AsyncHTTPTransport._pool: "
            "pipeline/alerts/channels/_transport.py needs updating"
        )

