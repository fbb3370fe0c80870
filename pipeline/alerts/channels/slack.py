"""Slack incoming webhook (and the Slack-compatible ones of Mattermost, Rocket.Chat…).

``text`` is the notification fallback; ``blocks`` carry the layout: for one alert the
linked title and a context line (source, published time, rule, tags); for several, a
header and one section per article, up to ``alert_digest_max_items``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from pipeline.alerts.channels import _http, digest
from pipeline.alerts.channels.base import check_batch
from pipeline.core.settings import Settings
from schemas import Alert, AlertRule, SlackChannel

_SECTION_LIMIT = 2900  # Slack refuses section text over 3000 characters
_HEADER_LIMIT = 150  # and header text over 150


class SlackSender:
    kind = "slack"

    def __init__(
        self, config: SlackChannel, *, http: httpx.AsyncClient, settings: Settings
    ) -> None:
        self._config = config
        self._http = http
        self._settings = settings

    async def send(self, alerts: Sequence[Alert], *, rule: AlertRule, idempotency_key: str) -> None:
        check_batch(alerts, rule)
        message = slack_message(
            digest.build(alerts, rule=rule, max_items=self._settings.alerts.digest_max_items)
        )
        body = json.dumps(message, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        await _http.post(
            self._http,
            str(self._config.url),
            body,
            headers=headers,
            settings=self._settings,
            kind=self.kind,
        )


def slack_message(d: digest.Digest) -> dict[str, Any]:
    """The JSON payload Slack's incoming webhooks accept."""
    text = f"[newsflow] {d.headline}"
    if d.is_instant:
        alert = d.shown[0]
        blocks = [_section(f"*{_link(alert)}*"), _context(_instant_details(alert, d.rule))]
    else:
        blocks = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _cut(d.headline, _HEADER_LIMIT)},
            },
            _context(f"Rule: *{_escape(digest.one_line(d.rule.name))}*"),
        ]
        blocks += [_section(f"*{_link(a)}*\n{_escape(digest.details(a))}") for a in d.shown]
        if d.more:
            blocks.append(_context(f"… and {d.more} more."))
    return {"text": text, "blocks": blocks}


def _instant_details(alert: Alert, rule: AlertRule) -> str:
    parts = [f"Source: {_escape(alert.source)}"] if alert.source else []
    parts.append(f"Published: {digest.when(alert.published_at)}")
    parts.append(f"Rule: *{_escape(digest.one_line(rule.name))}*")
    if alert.tags:
        parts.append("Tags: " + " ".join(f"`{_escape(t)}`" for t in alert.tags))
    return " · ".join(parts)


def _link(alert: Alert) -> str:
    title = _escape(digest.title_of(alert))
    if alert.url is None:
        return title
    url = str(alert.url).replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
    return f"<{url}|{title}>"


def _escape(text: str) -> str:
    """Slack's three control characters; everything else is literal in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, _SECTION_LIMIT)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, _SECTION_LIMIT)}]}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
