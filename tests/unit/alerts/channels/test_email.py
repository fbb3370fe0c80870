"""Email channel against a real SMTP server (aiosmtpd) on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import HttpUrl

from pipeline.alerts.channels import DeliveryError, channel_for, idempotency_key
from pipeline.alerts.channels.email import message_id
from pipeline.core.settings import Settings
from schemas import Alert, AlertRule, EmailChannel
from tests.support import settings_with

T0 = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
SENDER = "alerts@newsflow.example.org"


@dataclass
class Mailbox:
    """An aiosmtpd handler: refuses ``nobody@`` (550) and ``later@`` (451), keeps the rest."""

    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's naming)
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("later@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == b"hunter2"
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(*, auth: bool = False) -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    options: dict[str, Any] = {}
    if auth:  # plain-text AUTH is fine on loopback; smtplib's LOGIN variant stalls aiosmtpd
        options = {
            "authenticator": mailbox.authenticate,
            "auth_required": True,
            "auth_require_tls": False,
            "auth_exclude_mechanism": ["LOGIN"],
        }
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def settings(port: int, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "smtp__host": "127.0.0.1",
        "smtp__port": port,
        "smtp__sender": SENDER,
        "smtp__timeout_seconds": 5.0,
    }
    return settings_with(**{**base, **overrides})


RULE = AlertRule(
    id="deportations",
    name="Deportation flights",
    query='"deportation flight"',
    created_at=T0,
    updated_at=T0,
)


def alert(n: int) -> Alert:
    return Alert(
        id=Alert.make_id(RULE.id, f"story-{n}"),
        rule_id=RULE.id,
        rule_name=RULE.name,
        query=RULE.query,
        story_id=f"story-{n}",
        article_id=f"article-{n}",
        title=f"Charter flight {n} leaves with deportees",
        url=HttpUrl(f"https://news.example.org/flights/{n}"),
        source="Example Wire",
        published_at=T0 + timedelta(hours=n),
        matched_at=T0 + timedelta(hours=n, seconds=3),
        tags=["deportation"],
    )


def send(alerts: list[Alert], cfg: Settings, *, to: list[str], rule: AlertRule = RULE) -> str:
    key = idempotency_key(rule.id, alerts)

    async def go() -> None:
        channel = channel_for(EmailChannel(to=to), cfg)
        assert channel.kind == "email"
        await channel.send(alerts, rule=rule, idempotency_key=key)

    asyncio.run(go())
    return key


def parts(message: EmailMessage) -> tuple[str, str]:
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_instant_alert_arrives_with_subject_body_and_message_id() -> None:
    with smtp_server() as (mailbox, port):
        key = send([alert(1)], settings(port), to=["analyst@example.org", "desk@example.org"])
    [(mail_from, rcpt_tos, message)] = mailbox.received
    assert mail_from == SENDER
    assert rcpt_tos == ["analyst@example.org", "desk@example.org"]
    assert (
        message["Subject"]
        == "[newsflow] Deportation flights: Charter flight 1 leaves with deportees"
    )
    assert message["From"] == SENDER
    assert message["To"] == "analyst@example.org, desk@example.org"
    assert (
        message["Message-ID"]
        == message_id(key, sender=SENDER)
        == (f"<{key}.alert@newsflow.example.org>")
    )
    text, html = parts(message)
    assert "Charter flight 1 leaves with deportees" in text
    assert "https://news.example.org/flights/1" in text
    assert "Example Wire · published 2025-03-04 13:00 UTC · tags: deportation" in text
    assert '<a href="https://news.example.org/flights/1">' in html


def test_digest_of_three_alerts_is_one_email() -> None:
    with smtp_server() as (mailbox, port):
        send([alert(1), alert(2), alert(3)], settings(port), to=["analyst@example.org"])
    [(_, _, message)] = mailbox.received
    assert message["Subject"] == "[newsflow] Deportation flights: 3 new articles"
    text, html = parts(message)
    positions = [text.index(f"Charter flight {n} ") for n in (3, 2, 1)]
    assert positions == sorted(positions)  # newest first
    assert html.count("<li>") == 3


def test_redelivery_carries_the_same_message_id() -> None:
    with smtp_server() as (mailbox, port):
        send([alert(1), alert(2)], settings(port), to=["analyst@example.org"])
        send([alert(2), alert(1)], settings(port), to=["analyst@example.org"])
    ids = [message["Message-ID"] for _, _, message in mailbox.received]
    assert len(ids) == 2 and ids[0] == ids[1]


def test_newline_in_rule_name_cannot_inject_headers() -> None:
    sneaky = RULE.model_copy(update={"name": "Flights\r\nBcc: spy@example.org"})
    with smtp_server() as (mailbox, port):
        send([alert(1)], settings(port), to=["analyst@example.org"], rule=sneaky)
    [(_, rcpt_tos, message)] = mailbox.received
    assert rcpt_tos == ["analyst@example.org"] and message["Bcc"] is None
    assert message["Subject"].startswith("[newsflow] Flights Bcc: spy@example.org: ")


def test_permanent_refusal_is_not_retryable() -> None:
    with smtp_server() as (mailbox, port), pytest.raises(DeliveryError) as caught:
        send([alert(1)], settings(port), to=["nobody@example.org"])
    assert not caught.value.retryable and "550" in str(caught.value)
    assert mailbox.received == []


def test_temporary_refusal_is_retryable() -> None:
    with smtp_server() as (mailbox, port), pytest.raises(DeliveryError) as caught:
        send([alert(1)], settings(port), to=["later@example.org"])
    assert caught.value.retryable and "451" in str(caught.value)
    assert mailbox.received == []


def test_partial_refusal_delivers_to_the_others_and_is_not_retryable() -> None:
    with smtp_server() as (mailbox, port), pytest.raises(DeliveryError) as caught:
        send([alert(1)], settings(port), to=["analyst@example.org", "nobody@example.org"])
    assert not caught.value.retryable and "nobody@example.org" in str(caught.value)
    [(_, rcpt_tos, _)] = mailbox.received
    assert rcpt_tos == ["analyst@example.org"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_with_configured_credentials() -> None:
    with smtp_server(auth=True) as (mailbox, port):
        send(
            [alert(1)],
            settings(port, smtp__user="newsflow", smtp__password="hunter2"),
            to=["analyst@example.org"],
        )
        with pytest.raises(DeliveryError) as caught:
            send(
                [alert(2)],
                settings(port, smtp__user="newsflow", smtp__password="wrong"),
                to=["analyst@example.org"],
            )
    assert mailbox.logins == ["newsflow"] and len(mailbox.received) == 1
    assert not caught.value.retryable and "535" in str(caught.value)


def test_nothing_listening_is_retryable() -> None:
    with pytest.raises(DeliveryError) as caught:
        send([alert(1)], settings(free_port()), to=["analyst@example.org"])
    assert caught.value.retryable


def test_unset_smtp_host_is_a_configuration_error() -> None:
    with pytest.raises(DeliveryError) as caught:
        send([alert(1)], settings(25, smtp__host=None), to=["analyst@example.org"])
    assert not caught.value.retryable and "NEWSFLOW_SMTP_HOST" in str(caught.value)
