"""Generic webhook: the alerts as signed JSON, for receivers we do not know.

Body::

    {"rule": {"id", "name", "query"}, "alerts": [Alert JSON, newest first],
     "idempotency_key": "...", "sent_at": "<ISO 8601>"}

Headers: ``Idempotency-Key`` (same for a redelivery of the same alerts),
``X-Newsflow-Timestamp`` (Unix seconds, equal to ``sent_at``) and, when the channel has a
secret, ``X-Newsflow-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>``. The
signature covers ``sent_at``, so a receiver can also refuse stale replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx

from pipeline.alerts.channels import _http, digest
from pipeline.alerts.channels.base import check_batch
from pipeline.core.settings import Settings
from schemas import Alert, AlertRule, WebhookChannel

SIGNATURE_HEADER = "X-Newsflow-Signature"
TIMESTAMP_HEADER = "X-Newsflow-Timestamp"
_PREFIX = "sha256="


class WebhookSender:
    kind = "webhook"

    def __init__(
        self, config: WebhookChannel, *, http: httpx.AsyncClient, settings: Settings
    ) -> None:
        self._config = config
        self._http = http
        self._settings = settings

    async def send(self, alerts: Sequence[Alert], *, rule: AlertRule, idempotency_key: str) -> None:
        check_batch(alerts, rule)
        sent_at = datetime.now(UTC).replace(microsecond=0)
        body = webhook_body(alerts, rule=rule, idempotency_key=idempotency_key, sent_at=sent_at)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
        }
        if self._config.secret is not None:
            headers[SIGNATURE_HEADER] = sign(body, self._config.secret.get_secret_value())
        await _http.post(
            self._http,
            str(self._config.url),
            body,
            headers=headers,
            settings=self._settings,
            kind=self.kind,
        )


def webhook_body(
    alerts: Sequence[Alert], *, rule: AlertRule, idempotency_key: str, sent_at: datetime
) -> bytes:
    ordered = digest.build(alerts, rule=rule, max_items=len(alerts)).shown
    payload = {
        "rule": {"id": rule.id, "name": rule.name, "query": rule.query},
        "alerts": [alert.model_dump(mode="json") for alert in ordered],
        "idempotency_key": idempotency_key,
        "sent_at": sent_at.isoformat(),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    """The ``X-Newsflow-Signature`` value for ``body``."""
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{_PREFIX}{mac}"


def verify_signature(body: bytes, header: str, secret: str) -> bool:
    """For receivers: does ``header`` sign exactly ``body`` with ``secret``?

    Constant-time comparison; a malformed header is simply not a valid signature.
    """
    try:
        given = header.strip().encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        return False
    return hmac.compare_digest(given.lower(), sign(body, secret).encode("ascii"))
