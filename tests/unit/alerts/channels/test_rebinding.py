"""DNS rebinding, retries, redirects and reply leaks, against two real loopback servers.

``127.0.0.2`` stands for the receiver's public address (the test allowlists exactly it)
and ``127.0.0.1``, on the same port, for an internal service an attacker wants to reach.
The resolver answers the first address on its first lookup and the internal one after,
as a rebinding DNS server with a zero TTL would.  The internal server records every
request, so an empty record proves nothing reached it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import HttpUrl

from pipeline.alerts.channels import (
    DeliveryError,
    TargetRefusedError,
    channel_for,
    http_client,
    idempotency_key,
)
from pipeline.core.settings import Settings
from schemas import Alert, AlertRule, WebhookChannel
from tests.support import settings_with

pytestmark = pytest.mark.security

PUBLIC, INTERNAL = "127.0.0.2", "127.0.0.1"
HOST = "hooks.rebind.test"
T0 = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
LEAK = "internal-admin-token-7f3a"


@dataclass
class Server:
    """Answers every request with ``status`` and ``body`` (``Connection: close``)."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def serve(address: str, port: int, server: Server) -> Iterator[None]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(length)
            server.requests.append((self.command, self.path, dict(self.headers.items())))
            self.send_response(server.status)
            for name, value in server.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(server.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(server.body)

        do_POST = do_GET = _answer  # noqa: N815 (http.server's naming)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((address, port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def free_port_on_both() -> int:
    """A port free on both loopback addresses (the resolver changes the address only)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((PUBLIC, 0))
            port = int(probe.getsockname()[1])
        with socket.socket() as other:
            try:
                other.bind((INTERNAL, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free on both 127.0.0.1 and 127.0.0.2")


@contextmanager
def two_servers(public: Server, internal: Server) -> Iterator[int]:
    port = free_port_on_both()
    with ExitStack() as stack:
        stack.enter_context(serve(PUBLIC, port, public))
        stack.enter_context(serve(INTERNAL, port, internal))
        yield port


class Rebinding:
    """First lookup: the allowed address; every later one: the internal address."""

    def __init__(self) -> None:
        self.lookups = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        assert host == HOST
        self.lookups += 1
        return [PUBLIC] if self.lookups == 1 else [INTERNAL]


def settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "webhook__allow_networks": [f"{PUBLIC}/32"],
        "webhook__backoff_seconds": 0.01,
        "webhook__backoff_max_seconds": 0.02,
        "webhook__max_attempts": 3,
        "webhook__timeout_seconds": 5.0,
    }
    return settings_with(**{**base, **overrides})


RULE = AlertRule(id="r1", name="Rule one", query="asylum", created_at=T0, updated_at=T0)
ALERT = Alert(
    id=Alert.make_id("r1", "s1"),
    rule_id="r1",
    rule_name="Rule one",
    query="asylum",
    story_id="s1",
    article_id="a1",
    title="Shelter opens",
    published_at=T0,
    matched_at=T0,
)


def send(port: int, resolve: Rebinding, cfg: Settings) -> None:
    async def go() -> None:
        config = WebhookChannel(url=HttpUrl(f"http://{HOST}:{port}/admin/delete-everything"))
        async with http_client(cfg, resolve=resolve) as http:
            channel = channel_for(config, cfg, http=http)
            await channel.send([ALERT], rule=RULE, idempotency_key=idempotency_key("r1", [ALERT]))

    asyncio.run(go())


def test_the_connection_goes_to_the_vetted_address_not_a_second_lookup() -> None:
    public, internal = Server(), Server()
    resolve = Rebinding()
    with two_servers(public, internal) as port:
        send(port, resolve, settings())
    assert internal.requests == []
    [(method, path, headers)] = public.requests
    assert (method, path) == ("POST", "/admin/delete-everything")
    assert headers["Host"] == f"{HOST}:{port}"  # the name, not the address
    assert resolve.lookups == 1


def test_a_retry_is_vetted_again_and_refused_after_rebinding() -> None:
    public, internal = Server(status=503), Server()
    resolve = Rebinding()
    with two_servers(public, internal) as port, pytest.raises(TargetRefusedError) as caught:
        send(port, resolve, settings())
    assert internal.requests == []
    assert len(public.requests) == 1 and resolve.lookups == 2
    assert "127.0.0.1" in str(caught.value) and "loopback" in str(caught.value)
    assert not caught.value.retryable


def test_a_redirect_inward_is_not_followed() -> None:
    public, internal = Server(status=307), Server()
    with two_servers(public, internal) as port:
        public.headers["Location"] = f"http://{INTERNAL}:{port}/admin"
        with pytest.raises(DeliveryError) as caught:
            send(port, Rebinding(), settings())
    assert internal.requests == [] and len(public.requests) == 1
    assert "redirects are not followed" in str(caught.value)


@pytest.mark.parametrize("status", [400, 500])
def test_the_reply_text_never_reaches_the_error(status: int) -> None:
    public = Server(status=status, body=f'{{"admin_token": "{LEAK}"}}'.encode())
    with two_servers(public, Server()) as port, pytest.raises(DeliveryError) as caught:
        send(port, Rebinding(), settings(webhook__max_attempts=1))
    text = str(caught.value)
    assert LEAK not in text and "admin_token" not in text
    assert f"answered {status} with {len(public.body)} bytes" in text
    assert "/admin" not in text  # nor the path, which may be a credential


def test_a_huge_reply_is_not_read_in_full() -> None:
    public = Server(status=500, body=b"x" * (1024 * 1024))
    with two_servers(public, Server()) as port, pytest.raises(DeliveryError) as caught:
        send(port, Rebinding(), settings(webhook__max_attempts=1))
    assert "over 65536 bytes" in str(caught.value)
