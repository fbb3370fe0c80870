"""Refuse HTTP targets on private networks, so an alert rule cannot probe our own.

Anyone who may create a rule chooses where its webhook posts. Without this check a rule
could point at ``http://169.254.169.254/`` (cloud metadata), ``http://localhost:9200``
(our Elasticsearch) or a host on the office network, and read the answers through error
messages or timing. Every address the host resolves to must be global unicast.

Known limit — DNS rebinding: the host is resolved here and again by the HTTP client when
it connects, so a name with a very short TTL can answer a public address to us and a
private one to the client. Closing that gap needs connecting to the checked address
(pinning it in the transport, with TLS SNI set to the name); not done yet. Redirects are
never followed (see ``_http.http_client``), so a 3xx cannot lead around the check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from pipeline.alerts.channels.base import DeliveryError, TargetRefusedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        problem = address_problem(embedded)
        return f"{problem} (embedded in {ip})" if problem else None
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("site-local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
        ("not globally routable", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


async def check_target(
    url: str, *, allow_private: bool, resolve: Resolver | None = None, kind: str | None = None
) -> None:
    """Raise TargetRefusedError unless every address of ``url``'s host is public.

    Runs before any connection is opened. ``resolve`` defaults to ``getaddrinfo`` in the
    event loop's thread pool; tests pass their own to cover names with mixed answers.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in _DEFAULT_PORTS or not host:
        raise TargetRefusedError(
            f"not an http(s) URL with a host: {parts.scheme}://{host}", kind=kind
        )
    if allow_private:
        return
    shown = describe(url)
    if host == "localhost" or host.endswith(".localhost"):
        raise TargetRefusedError(f"{shown} is loopback (localhost)", kind=kind)
    literal = _ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
        try:
            found = await (resolve or _getaddrinfo)(host, port)
        except DeliveryError as e:
            raise DeliveryError(e.reason, retryable=e.retryable, kind=kind) from e
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        if not addresses:
            raise DeliveryError(f"{shown} resolves to no address", retryable=True, kind=kind)
    for ip in addresses:
        problem = address_problem(ip)
        if problem:
            raise TargetRefusedError(
                f"{shown} {'is' if literal else 'resolves to'} {ip}, which is {problem}; refused "
                "(set NEWSFLOW_ALLOW_PRIVATE_WEBHOOKS=true to allow private targets)",
                kind=kind,
            )


def describe(url: str) -> str:
    """scheme://host:port of ``url``, for messages: paths and queries may hold secrets."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    return f"{parts.scheme}://{host}:{port}"


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


async def _getaddrinfo(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        # EAI_AGAIN is a resolver hiccup; an unknown name will not start existing soon.
        transient = e.errno == socket.EAI_AGAIN
        raise DeliveryError(f"cannot resolve {host}: {e.strerror}", retryable=transient) from e
    return [str(info[4][0]) for info in infos]
