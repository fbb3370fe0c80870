"""Webhook channel against a real HTTP server on 127.0.0.1: signature, retries, refusals."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import HttpUrl, SecretStr

from pipeline.alerts.channels import (
    DeliveryError,
    TargetRefusedError,
    channel_for,
    http_client,
    idempotency_key,
    verify_signature,
)
from pipeline.core.settings import Settings
from schemas import Alert, AlertRule, WebhookChannel
from tests.support import settings_with

SECRET = "s3cret-for-tests"
T0 = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


@dataclass
class Recorder:
    """Answers each POST with the next scripted (status, delay); records what it got."""

    script: list[tuple[int, float]]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@contextmanager
def receiver(*script: tuple[int, float]) -> Iterator[Recorder]:
    recorder = Recorder(list(script))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            recorder.requests.append((dict(self.headers.items()), body))
            status, delay = recorder.script.pop(0) if recorder.script else (200, 0.0)
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the client gave up waiting

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/abc"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "webhook__allow_networks": ["127.0.0.1/32"],
        "webhook__backoff_seconds": 0.01,
        "webhook__backoff_max_seconds": 0.05,
        "webhook__max_attempts": 3,
        "webhook__timeout_seconds": 2.0,
    }
    return settings_with(**{**base, **overrides})


def rule() -> AlertRule:
    return AlertRule(
        id="border-watch",
        name="Border watch",
        query="asylum AND border",
        created_at=T0,
        updated_at=T0,
    )


def alert(n: int) -> Alert:
    return Alert(
        id=Alert.make_id("border-watch", f"story-{n}"),
        rule_id="border-watch",
        rule_name="Border watch",
        query="asylum AND border",
        story_id=f"story-{n}",
        article_id=f"article-{n}",
        title=f"Shelter number {n} opens near the river crossing",
        url=HttpUrl(f"https://news.example.org/a/{n}"),
        source="Example Wire",
        published_at=T0 + timedelta(minutes=n),
        matched_at=T0 + timedelta(minutes=n, seconds=1),
        tags=["asylum", "border_crossing"],
    )


def send(url: str, alerts: list[Alert], cfg: Settings, *, secret: str | None = SECRET) -> None:
    async def go() -> None:
        config = WebhookChannel(url=HttpUrl(url), secret=SecretStr(secret) if secret else None)
        async with http_client(cfg) as http:
            channel = channel_for(config, cfg, http=http)
            assert channel.kind == "webhook"
            key = idempotency_key("border-watch", alerts)
            await channel.send(alerts, rule=rule(), idempotency_key=key)

    asyncio.run(go())


def test_body_is_signed_and_verifiable_and_a_wrong_secret_fails() -> None:
    with receiver() as server:
        send(server.url, [alert(1)], settings())
    [(headers, body)] = server.requests
    signature = headers["X-Newsflow-Signature"]
    assert signature.startswith("sha256=")
    assert verify_signature(body, signature, SECRET)
    assert not verify_signature(body, signature, "another-secret")
    assert not verify_signature(body + b" ", signature, SECRET)
    assert not verify_signature(body, "sha256=nothex", SECRET)

    payload = json.loads(body)
    assert payload["rule"] == {
        "id": "border-watch",
        "name": "Border watch",
        "query": "asylum AND border",
    }
    assert [a["id"] for a in payload["alerts"]] == [alert(1).id]
    assert Alert.model_validate(payload["alerts"][0]) == alert(1)
    assert payload["idempotency_key"] == headers["Idempotency-Key"]
    assert headers["Idempotency-Key"] == idempotency_key("border-watch", [alert(1)])
    sent_at = datetime.fromisoformat(payload["sent_at"])
    assert int(sent_at.timestamp()) == int(headers["X-Newsflow-Timestamp"])
    assert headers["Content-Type"] == "application/json"


def test_no_secret_no_signature_header() -> None:
    with receiver() as server:
        send(server.url, [alert(1)], settings(), secret=None)
    [(headers, _)] = server.requests
    assert "X-Newsflow-Signature" not in headers


def test_digest_of_three_alerts_is_one_request_with_a_stable_key() -> None:
    alerts = [alert(1), alert(2), alert(3)]
    with receiver() as server:
        send(server.url, alerts, settings())
        send(server.url, list(reversed(alerts)) + [alert(2)], settings())  # a redelivery
    assert len(server.requests) == 2
    (first_headers, first_body), (second_headers, second_body) = server.requests
    assert first_headers["Idempotency-Key"] == second_headers["Idempotency-Key"]
    for body in (first_body, second_body):
        ids = [a["id"] for a in json.loads(body)["alerts"]]
        assert ids == [alert(3).id, alert(2).id, alert(1).id]  # newest first, no repeats


def test_retries_a_503_then_succeeds_with_the_same_bytes() -> None:
    with receiver((503, 0.0), (503, 0.0), (200, 0.0)) as server:
        send(server.url, [alert(1)], settings(webhook__max_attempts=3))
    assert len(server.requests) == 3
    assert len({body for _, body in server.requests}) == 1
    assert len({h["Idempotency-Key"] for h, _ in server.requests}) == 1


def test_gives_up_after_max_attempts_on_429_as_retryable() -> None:
    script = [(429, 0.0)] * 3
    with receiver(*script) as server, pytest.raises(DeliveryError) as caught:
        send(server.url, [alert(1)], settings(webhook__max_attempts=2))
    assert len(server.requests) == 2
    assert caught.value.retryable and caught.value.status == 429 and caught.value.attempts == 2


def test_no_retry_on_400() -> None:
    with receiver((400, 0.0), (200, 0.0)) as server, pytest.raises(DeliveryError) as caught:
        send(server.url, [alert(1)], settings(webhook__max_attempts=5))
    assert len(server.requests) == 1
    assert not caught.value.retryable and caught.value.status == 400
    assert "/hooks/abc" not in str(caught.value)  # the path may be a secret


def test_redirect_is_not_followed() -> None:
    with receiver((302, 0.0)) as server, pytest.raises(DeliveryError) as caught:
        send(server.url, [alert(1)], settings())
    assert len(server.requests) == 1 and not caught.value.retryable


def test_timeout_is_a_retryable_error() -> None:
    with receiver((200, 1.5), (200, 1.5)) as server, pytest.raises(DeliveryError) as caught:
        send(
            server.url,
            [alert(1)],
            settings(webhook__timeout_seconds=0.2, webhook__max_attempts=2),
        )
    assert caught.value.retryable and "timed out" in str(caught.value)
    assert len(server.requests) == 2


def test_connection_refused_is_retryable() -> None:
    with receiver() as server:
        url = server.url
    with pytest.raises(DeliveryError) as caught:  # the server is gone: nothing listens
        send(url, [alert(1)], settings(webhook__max_attempts=2))
    assert caught.value.retryable and caught.value.attempts == 2


def test_loopback_target_refused_before_any_connection() -> None:
    with receiver() as server:
        with pytest.raises(TargetRefusedError) as caught:
            send(server.url, [alert(1)], settings(webhook__allow_networks=[]))
        port = server.url.split(":")[2].split("/")[0]
        with pytest.raises(TargetRefusedError):  # same server, a decimal IP literal
            send(f"http://2130706433:{port}/x", [alert(1)], settings(webhook__allow_networks=[]))
    assert server.requests == []
    assert not caught.value.retryable and "loopback" in str(caught.value)
