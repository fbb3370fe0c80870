"""Slack channel against a real HTTP server on 127.0.0.1: message shape, digest, errors."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import HttpUrl

from pipeline.alerts.channels import DeliveryError, TargetRefusedError, channel_for, http_client
from pipeline.alerts.channels import idempotency_key as make_key
from pipeline.core.settings import Settings
from schemas import Alert, AlertRule, SlackChannel
from tests.support import Receiver, settings_with

T0 = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


def slack_server(*statuses: int) -> Receiver:
    """Answers like Slack: 200 ``ok``, or the scripted status with an error word."""
    return Receiver(script=[(status, 0.0) for status in statuses], path="/services/T0/B0/XYZ",
                    reply=lambda status: b"ok" if status == 200 else b"no_service")


def messages(server: Receiver) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in server.requests]


def settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "webhook__allow_networks": ["127.0.0.1/32"],
        "webhook__backoff_seconds": 0.01,
        "webhook__max_attempts": 3,
    }
    return settings_with(**{**base, **overrides})


RULE = AlertRule(
    id="camps", name="Camps & shelters", query="camp OR shelter", created_at=T0, updated_at=T0
)


def alert(n: int, *, title: str | None = None) -> Alert:
    return Alert(
        id=Alert.make_id("camps", f"story-{n}"),
        rule_id="camps",
        rule_name=RULE.name,
        query=RULE.query,
        story_id=f"story-{n}",
        article_id=f"article-{n}",
        title=title or f"Camp {n} receives new arrivals",
        url=HttpUrl(f"https://news.example.org/camps/{n}"),
        source="Example Wire",
        published_at=T0 + timedelta(hours=n),
        matched_at=T0 + timedelta(hours=n, seconds=2),
        tags=["camps", "humanitarian_aid"],
    )


def send(url: str, alerts: list[Alert], cfg: Settings) -> None:
    async def go() -> None:
        async with http_client(cfg) as http:
            channel = channel_for(SlackChannel(url=HttpUrl(url)), cfg, http=http)
            assert channel.kind == "slack"
            await channel.send(alerts, rule=RULE, idempotency_key=make_key(RULE.id, alerts))

    asyncio.run(go())


def texts(message: dict[str, Any]) -> list[str]:
    """Every mrkdwn/plain text in the blocks, in order."""
    out = []
    for block in message["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [element["text"] for element in block.get("elements", [])]
    return out


def test_instant_message_has_linked_title_source_time_rule_and_tags() -> None:
    with slack_server() as server:
        send(server.url, [alert(1, title="Shelter <full> & closing")], settings())
    [message] = messages(server)
    assert message["text"] == "[newsflow] Camps & shelters: Shelter <full> & closing"
    assert [b["type"] for b in message["blocks"]] == ["section", "context"]
    title, details = texts(message)
    assert title == "*<https://news.example.org/camps/1|Shelter &lt;full&gt; &amp; closing>*"
    assert "Source: Example Wire" in details
    assert "Published: 2025-03-04 13:00 UTC" in details
    assert "Rule: *Camps &amp; shelters*" in details
    assert "`camps`" in details and "`humanitarian_aid`" in details
    assert [r.key for r in server.requests] == [make_key("camps", [alert(1)])]


def test_digest_of_three_alerts_is_one_message_newest_first() -> None:
    with slack_server() as server:
        send(server.url, [alert(1), alert(2), alert(3)], settings())
    [message] = messages(server)
    assert message["text"] == "[newsflow] Camps & shelters: 3 new articles"
    blocks = message["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Camps & shelters: 3 new articles"},
    }
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert [s.split("|")[0] for s in sections] == [
        f"*<https://news.example.org/camps/{n}" for n in (3, 2, 1)
    ]
    assert all("Example Wire" in s and "camps, humanitarian_aid" in s for s in sections)


def test_digest_beyond_the_limit_says_how_many_more() -> None:
    with slack_server() as server:
        send(server.url, [alert(n) for n in range(1, 6)], settings(alerts__digest_max_items=2))
    [message] = messages(server)
    assert sum(b["type"] == "section" for b in message["blocks"]) == 2
    assert texts(message)[-1] == "… and 3 more."
    assert "5 new articles" in message["text"]


def test_slack_refusal_is_not_retried() -> None:
    with slack_server(404) as server, pytest.raises(DeliveryError) as caught:
        send(server.url, [alert(1)], settings())
    assert len(messages(server)) == 1
    assert not caught.value.retryable and caught.value.status == 404
    # Status and size only: the reply's text is the target's, not ours to log.
    assert "no_service" not in str(caught.value) and "10 bytes" in str(caught.value)
    assert "XYZ" not in str(caught.value)  # the webhook path is the credential


def test_slack_server_error_is_retried() -> None:
    with slack_server(500) as server:
        send(server.url, [alert(1)], settings())
    assert len(messages(server)) == 2 and messages(server)[0] == messages(server)[1]


def test_private_slack_target_refused() -> None:
    with slack_server() as server, pytest.raises(TargetRefusedError):
        send(server.url, [alert(1)], settings(webhook__allow_networks=[]))
    assert messages(server) == []


def test_alerts_of_another_rule_are_a_wiring_error() -> None:
    stranger = alert(1).model_copy(update={"rule_id": "other"})
    with slack_server() as server, pytest.raises(ValueError, match="other"):
        send(server.url, [alert(2), stranger], settings())
    assert messages(server) == []
