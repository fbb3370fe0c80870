"""Webhook channel against a real HTTP server on 127.0.0.1: signature, retries, refusals."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import HttpUrl, SecretStr, ValidationError

from pipeline.alerts.channels import (
    DeliveryError,
    SignatureError,
    TargetRefusedError,
    channel_for,
    http_client,
    idempotency_key,
    new_secret,
    verify,
)
from pipeline.core.settings import Settings
from schemas import Alert, AlertRule, WebhookChannel
from tests.support import Receiver, settings_with

security = pytest.mark.security
SECRET = "whsec_" + base64.b64encode(b"unit-tests-webhook-key-0123456789").decode()
T0 = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


def receiver(*script: tuple[int, float]) -> Receiver:
    """Answers each POST with the next scripted (status, delay), then 200."""
    return Receiver(script=script, path="/hooks/abc")


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


def send(url: str, alerts: list[Alert], cfg: Settings, *, secrets: tuple[str, ...] = (SECRET,)
         ) -> None:
    async def go() -> None:
        config = WebhookChannel(url=HttpUrl(url), secrets=[SecretStr(s) for s in secrets])
        async with http_client(cfg) as http:
            channel = channel_for(config, cfg, http=http)
            assert channel.kind == "webhook"
            key = idempotency_key("border-watch", alerts)
            await channel.send(alerts, rule=rule(), idempotency_key=key)

    asyncio.run(go())


def test_body_is_signed_per_standard_webhooks_and_verifiable() -> None:
    with receiver() as server:
        send(server.url, [alert(1)], settings())
    [(headers, body)] = [(r.headers, r.body) for r in server.requests]
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["webhook-id"] == headers["idempotency-key"]
    verify(body, headers, SECRET)  # raises if not signed
    payload = json.loads(body)
    assert payload["rule"] == {
        "id": "border-watch",
        "name": "Border watch",
        "query": "asylum AND border",
    }
    assert [a["id"] for a in payload["alerts"]] == [alert(1).id]
    assert Alert.model_validate(payload["alerts"][0]) == alert(1)
    assert payload["idempotency_key"] == headers["idempotency-key"]
    assert headers["idempotency-key"] == idempotency_key("border-watch", [alert(1)])
    sent_at = datetime.fromisoformat(payload["sent_at"])
    assert int(sent_at.timestamp()) == int(headers["webhook-timestamp"])
    assert headers["content-type"] == "application/json"


def test_the_signature_matches_the_standard_webhooks_reference_computation() -> None:
    # The spec's recipe, written out: HMAC-SHA256 over "{id}.{timestamp}.{body}" with the
    # base64-decoded whsec_ key, base64 encoded, "v1," in front.
    with receiver() as server:
        send(server.url, [alert(1)], settings())
    [(headers, body)] = [(r.headers, r.body) for r in server.requests]
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"


def test_every_active_secret_signs_so_receivers_can_rotate() -> None:
    old, new = SECRET, new_secret()
    with receiver() as server:
        send(server.url, [alert(1)], settings(), secrets=(old, new))
    [(headers, body)] = [(r.headers, r.body) for r in server.requests]
    assert len(headers["webhook-signature"].split()) == 2
    verify(body, headers, old)
    verify(body, headers, new)
    verify(body, headers, [new_secret(), new])  # a receiver holding several secrets


@security
def test_verify_refuses_tampering_replays_and_wrong_secrets() -> None:
    with receiver() as server:
        send(server.url, [alert(1)], settings())
    [(headers, body)] = [(r.headers, r.body) for r in server.requests]
    stamp = int(headers["webhook-timestamp"])
    verify(body, headers, SECRET, now=stamp + 299)
    refused = {
        "another secret": (body, headers, new_secret(), stamp),
        "a changed body": (body + b" ", headers, SECRET, stamp),
        "a replay 6 minutes later": (body, headers, SECRET, stamp + 360),
        "a timestamp from the future": (body, headers, SECRET, stamp - 360),
        "another message id": (body, {**headers, "webhook-id": "other"}, SECRET, stamp),
        "a moved timestamp": (body, {**headers, "webhook-timestamp": str(stamp + 1)}, SECRET,
                              stamp),
        "no signature": (body, {k: v for k, v in headers.items() if k != "webhook-signature"},
                         SECRET, stamp),
        "a v2 signature": (body, {**headers, "webhook-signature": "v2,"
                                  + headers["webhook-signature"][3:]}, SECRET, stamp),
    }
    for what, (b, h, secret, now) in refused.items():
        with pytest.raises(SignatureError):
            verify(b, h, secret, now=now)
            pytest.fail(f"accepted {what}")


@security
@pytest.mark.parametrize("short", ["x", "s3cret-for-tests", "whsec_" + "QUJD" * 7])
def test_short_secrets_are_refused(short: str) -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        WebhookChannel(url=HttpUrl("https://hooks.example.org/x"), secrets=[SecretStr(short)])


def test_generated_secrets_are_32_random_bytes() -> None:
    one, two = new_secret(), new_secret()
    assert one != two and len(base64.b64decode(one.removeprefix("whsec_"))) == 32


def test_no_secret_no_signature_header() -> None:
    with receiver() as server:
        send(server.url, [alert(1)], settings(), secrets=())
    [(headers, _)] = [(r.headers, r.body) for r in server.requests]
    assert "webhook-signature" not in headers


def test_digest_of_three_alerts_is_one_request_with_a_stable_key() -> None:
    alerts = [alert(1), alert(2), alert(3)]
    with receiver() as server:
        send(server.url, alerts, settings())
        send(server.url, list(reversed(alerts)) + [alert(2)], settings())  # a redelivery
    assert len(server.requests) == 2
    (first_headers, first_body), (second_headers, second_body) = [
        (r.headers, r.body) for r in server.requests]
    assert first_headers["idempotency-key"] == second_headers["idempotency-key"]
    for body in (first_body, second_body):
        ids = [a["id"] for a in json.loads(body)["alerts"]]
        assert ids == [alert(3).id, alert(2).id, alert(1).id]  # newest first, no repeats


def test_retries_a_503_then_succeeds_with_the_same_bytes() -> None:
    with receiver((503, 0.0), (503, 0.0), (200, 0.0)) as server:
        send(server.url, [alert(1)], settings(webhook__max_attempts=3))
    assert len(server.requests) == 3
    assert len({r.body for r in server.requests}) == 1
    assert len({r.key for r in server.requests}) == 1


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
