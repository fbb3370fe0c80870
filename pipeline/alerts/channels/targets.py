"""Refuse HTTP targets on private networks, so an alert rule cannot probe our own.

Anyone who may create a rule chooses where its webhook posts. Without this check a rule
could point at ``http://169.254.169.254/`` (cloud metadata), ``http://localhost:9200``
(our Elasticsearch) or a host on the office network, and read the answers through error
messages or timing. Every address a host resolves to must be global unicast, or inside a
network the operator allowed (``NEWSFLOW_WEBHOOK_ALLOW_NETWORKS``, for an on-premises
receiver); cloud metadata addresses are refused even then.

DNS rebinding: the check and the connection use the *same* lookup. ``_transport`` vets the
addresses inside the HTTP client's connect step and connects to exactly those, so a name
cannot answer a public address to the check and a private one to the connection, and
every new connection (a retry, a redirect if one were followed) is vetted again.

The feed follower's transport (``pipeline.ingest.feeds.transport``) makes the same decision
with :func:`vet_host_sync`, from a thread that may block, with its own policy and hint.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pipeline.alerts.channels.base import DeliveryError, TargetRefusedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOW_SETTING = "NEWSFLOW_WEBHOOK_ALLOW_NETWORKS"
_WEBHOOK_HINT = f"to allow an on-premises receiver, add its network to {ALLOW_SETTING}"
# Every network: what a policy allows when only cloud metadata stays closed.
ANY_NETWORK = ("0.0.0.0/0", "::/0")
# Instance metadata and host agents of the big clouds: credentials live behind them, so
# no allowlist opens them (AWS IMDS v4/v6 and ECS/EKS agents, GCP, Azure wire server and
# IMDS, Alibaba, Oracle's legacy address).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "169.254.169.123",
        "fd00:ec2::254",
        "fd00:ec2::23",
        "168.63.129.16",
        "100.100.100.200",
        "192.0.0.192",
    )
)


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """Which addresses a client may reach: public ones, plus the ``allow`` networks.

    ``hint`` ends a refusal's message: how the operator opens a private network.
    """

    allow: tuple[IPNetwork, ...] = ()
    hint: str = _WEBHOOK_HINT

    @classmethod
    def from_networks(
        cls, networks: Iterable[str | IPNetwork], *, hint: str = _WEBHOOK_HINT
    ) -> TargetPolicy:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks), hint)

    def problem(self, ip: IPAddress) -> str | None:
        """Why ``ip`` may not be reached, or None when it may."""
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            problem = self.problem(embedded)
            return f"{problem} (embedded in {ip})" if problem else None
        if ip in METADATA_ADDRESSES:
            return "a cloud metadata address (never allowed)"
        if any(ip.version == net.version and ip in net for net in self.allow):
            return None
        return address_problem(ip)


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


async def vet_host(
    host: str, port: int, *, policy: TargetPolicy, resolve: Resolver | None = None
) -> list[IPAddress]:
    """The addresses of ``host`` to connect to; refused unless *every* one passes ``policy``.

    ``resolve`` defaults to ``getaddrinfo`` in the event loop's thread pool; tests pass
    their own to cover names with mixed or changing answers.

    Raises:
        TargetRefusedError: an address is not allowed (nothing was sent anywhere).
        DeliveryError: the name does not resolve (retryable when the resolver hiccuped).
    """
    host = host.rstrip(".")
    known = _without_lookup(host, port, policy)
    if known is not None:
        return _vetted(host, port, known, policy=policy, literal=True)
    found = await (resolve or _getaddrinfo)(host, port)
    return _vetted(host, port, found, policy=policy, literal=False)


def vet_host_sync(host: str, port: int, *, policy: TargetPolicy) -> list[IPAddress]:
    """:func:`vet_host` for a thread that may block: the same checks, errors and messages,
    with the system's ``getaddrinfo`` called in this thread."""
    host = host.rstrip(".")
    known = _without_lookup(host, port, policy)
    if known is not None:
        return _vetted(host, port, known, policy=policy, literal=True)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise _unresolvable(host, e) from e
    return _vetted(host, port, _addresses(infos), policy=policy, literal=False)


def _without_lookup(host: str, port: int, policy: TargetPolicy) -> list[str] | None:
    """``[host]`` for an address literal, None for a name to look up; refuses
    ``localhost`` names (no DNS asked) unless loopback is allowed."""
    loopback_allowed = policy.problem(ipaddress.ip_address("127.0.0.1")) is None
    if (host == "localhost" or host.endswith(".localhost")) and not loopback_allowed:
        raise TargetRefusedError(f"{host}:{port} is loopback (localhost); {policy.hint}")
    literal = _ip_literal(host)
    return None if literal is None else [str(literal)]


def _vetted(
    host: str, port: int, found: Iterable[str], *, policy: TargetPolicy, literal: bool
) -> list[IPAddress]:
    shown = f"{host}:{port}"
    addresses = list(dict.fromkeys(ipaddress.ip_address(a.split("%", 1)[0]) for a in found))
    if not addresses:
        raise DeliveryError(f"{shown} resolves to no address", retryable=True)
    for ip in addresses:
        problem = policy.problem(ip)
        if problem:
            verb = "is" if literal else "resolves to"
            hint = "" if ip in METADATA_ADDRESSES else f"; {policy.hint}"
            raise TargetRefusedError(f"{shown} {verb} {ip}, which is {problem}: refused{hint}")
    return addresses


async def check_target(
    url: str,
    *,
    policy: TargetPolicy,
    resolve: Resolver | None = None,
    kind: str | None = None,
) -> list[IPAddress]:
    """:func:`vet_host` for a URL, for callers that want the answer before any request
    (delivery itself needs no call: the transport vets every connection)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in _DEFAULT_PORTS or not host:
        raise TargetRefusedError(
            f"not an http(s) URL with a host: {parts.scheme}://{host}", kind=kind
        )
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    try:
        return await vet_host(host, port, policy=policy, resolve=resolve)
    except TargetRefusedError as e:
        raise TargetRefusedError(f"{describe(url)}: {e.reason}", kind=kind) from e
    except DeliveryError as e:
        raise DeliveryError(e.reason, retryable=e.retryable, kind=kind) from e


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
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
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
        raise _unresolvable(host, e) from e
    return _addresses(infos)


def _addresses(infos: Iterable[tuple[Any, ...]]) -> list[str]:
    return [str(info[4][0]) for info in infos]


def _unresolvable(host: str, e: OSError) -> DeliveryError:
    # EAI_AGAIN is a resolver hiccup; an unknown name will not start existing soon.
    transient = isinstance(e, socket.gaierror) and e.errno == socket.EAI_AGAIN
    return DeliveryError(f"cannot resolve {host}: {e.strerror or e}", retryable=transient)
