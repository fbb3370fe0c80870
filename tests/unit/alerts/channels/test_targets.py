"""Private-target refusal: literals in every form, every resolved address, no traffic sent.

Nothing here connects anywhere: literals are judged without DNS, and names are resolved
by a stand-in resolver (or, for ``127.1``, by the system, which answers locally).
"""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from pipeline.alerts.channels import TargetRefusedError
from pipeline.alerts.channels.targets import (
    TargetPolicy,
    address_problem,
    check_target,
    describe,
)

pytestmark = pytest.mark.security
PUBLIC_ONLY = TargetPolicy()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://10.0.0.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://169.254.10.1/hook", "link-local"),
        ("http://[::1]:8080/hook", "loopback"),
        ("http://[::ffff:10.0.0.1]/hook", "private"),
        ("http://[fd00::1]/hook", "private"),
        ("http://[fe80::1%25eth0]/hook", "link-local"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://100.64.0.1/hook", "not globally routable"),
        ("http://240.0.0.1/hook", "reserved"),
        ("http://localhost:9200/", "loopback"),
        ("http://api.localhost/", "loopback"),
        ("http://[64:ff9b::a00:1]/", "private"),
    ],
)
def test_private_literals_refused_without_resolving(url: str, problem: str) -> None:
    async def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError(f"resolved {host}: literals need no DNS")

    with pytest.raises(TargetRefusedError) as caught:
        asyncio.run(check_target(url, policy=PUBLIC_ONLY, resolve=no_dns))
    assert problem in str(caught.value)


def test_every_resolved_address_is_checked() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "2606:4700::1", "192.168.1.20"]

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "2606:4700::1"]

    with pytest.raises(TargetRefusedError, match="192.168.1.20"):
        asyncio.run(check_target("https://hooks.example.com/x", policy=PUBLIC_ONLY, resolve=mixed))
    asyncio.run(check_target("https://hooks.example.com/x", policy=PUBLIC_ONLY, resolve=public))


def test_localhost_name_resolved_by_the_system_is_refused() -> None:
    with pytest.raises(TargetRefusedError):
        asyncio.run(check_target("http://127.1:80/", policy=PUBLIC_ONLY))


def test_public_addresses_pass() -> None:
    for a in ["93.184.215.14", "8.8.8.8", "2606:4700::1", "2002:5db8:d70e::1"]:
        assert address_problem(ipaddress.ip_address(a)) is None, a


def test_allowlisted_network_passes_and_nothing_else_does() -> None:
    policy = TargetPolicy.from_networks(["127.0.0.0/8", "10.20.0.0/16"])
    asyncio.run(check_target("http://127.0.0.1:9/x", policy=policy))
    asyncio.run(check_target("http://10.20.3.4/x", policy=policy))
    with pytest.raises(TargetRefusedError, match="private"):
        asyncio.run(check_target("http://10.21.0.1/x", policy=policy))


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",
        "http://[::ffff:169.254.169.254]/",
        "http://100.100.100.200/latest/meta-data/",
    ],
)
def test_metadata_addresses_refused_even_when_their_network_is_allowed(url: str) -> None:
    everything = TargetPolicy.from_networks(["0.0.0.0/0", "::/0"])
    with pytest.raises(TargetRefusedError, match="metadata"):
        asyncio.run(check_target(url, policy=everything))


def test_describe_hides_path_and_query() -> None:
    url = "https://hooks.slack.com/services/T000/B000/SECRET?token=abc"
    assert describe(url) == "https://hooks.slack.com:443"
    assert describe("http://[::1]:8080/x") == "http://[::1]:8080"


def test_non_http_scheme_refused() -> None:
    with pytest.raises(TargetRefusedError):
        asyncio.run(check_target("ftp://example.org/x", policy=PUBLIC_ONLY))
