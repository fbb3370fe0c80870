"""Alert delivery channels: webhook, Slack, email behind one small interface.

Wiring, in the composition root::

    async with http_client(settings) as http:
        channel = channel_for(config, settings, http=http)
        await channel.send(alerts, rule=rule, idempotency_key=idempotency_key(rule.id, alerts))
"""

from __future__ import annotations

import httpx

from pipeline.alerts.channels._http import http_client
from pipeline.alerts.channels.base import (
    Channel,
    DeliveryError,
    TargetRefusedError,
    idempotency_key,
)
from pipeline.alerts.channels.digest import group_by_rule
from pipeline.alerts.channels.email import EmailSender
from pipeline.alerts.channels.slack import SlackSender
from pipeline.alerts.channels.webhook import SignatureError, WebhookSender, new_secret, verify
from pipeline.core.settings import Settings
from schemas import EmailChannel, SlackChannel, WebhookChannel

__all__ = [
    "Channel",
    "DeliveryError",
    "EmailSender",
    "SignatureError",
    "SlackSender",
    "TargetRefusedError",
    "WebhookSender",
    "channel_for",
    "group_by_rule",
    "http_client",
    "idempotency_key",
    "new_secret",
    "verify",
]


def channel_for(
    config: WebhookChannel | SlackChannel | EmailChannel,
    settings: Settings,
    *,
    http: httpx.AsyncClient | None = None,
) -> Channel:
    """The sender for one configured channel; no I/O. HTTP channels need the shared client."""
    if isinstance(config, EmailChannel):
        return EmailSender(config, settings=settings)
    if http is None:
        raise ValueError(f"a {config.kind} channel needs the shared http client (http=...)")
    if isinstance(config, WebhookChannel):
        return WebhookSender(config, http=http, settings=settings)
    return SlackSender(config, http=http, settings=settings)
