"""Generic webhook: the alerts as JSON, signed per Standard Webhooks (standardwebhooks.com).

Body::

    {"rule": {"id", "name", "query"}, "alerts": [Alert JSON, newest first],
     "idempotency_key": "...", "sent_at": "<ISO 8601>"}

Headers: ``webhook-id`` (the idempotency key: the same for a redelivery of the same
alerts; also sent as ``Idempotency-Key``), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, one per
active secret, separated by spaces.  The id and the timestamp are signed, so a receiver
that calls :func:`verify` refuses a replay older than five minutes and a body moved to
another message.  Receivers may use any Standard Webhooks library instead of ``verify``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as _random
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import httpx

from pipeline.alerts.channels import _http, digest
from pipeline.alerts.channels.base import check_batch
from pipeline.core.errors import NewsflowError
from pipeline.core.settings import Settings
from schemas import Alert, AlertRule, WebhookChannel
from schemas.alerts import MIN_SECRET_BYTES, webhook_key

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
MAX_AGE_SECONDS = 300


class SignatureError(NewsflowError, ValueError):
    """A webhook request that :func:`verify` refuses; the message says why, in one line."""


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
        timestamp = int(sent_at.timestamp())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            ID_HEADER: idempotency_key,
            TIMESTAMP_HEADER: str(timestamp),
        }
        keys = [s.get_secret_value() for s in self._config.secrets]
        if keys:
            headers[SIGNATURE_HEADER] = sign(idempotency_key, timestamp, body, keys)
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


def new_secret() -> str:
    """A fresh ``whsec_`` secret of 32 random bytes, for a webhook given none."""
    return "whsec_" + base64.b64encode(_random.token_bytes(MIN_SECRET_BYTES)).decode()


def sign(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """The ``webhook-signature`` value: ``v1,<base64>`` per secret, space-separated."""
    return " ".join(f"v1,{_mac(secret, msg_id, timestamp, body)}" for secret in secrets)


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: str | Sequence[str],
    *,
    max_age: float = MAX_AGE_SECONDS,
    now: float | None = None,
) -> None:
    """For receivers: accept a request only if one of ``secrets`` signed it, recently.

    ``headers`` is the request's (names in any case).  Refused: a missing header, a
    timestamp more than ``max_age`` seconds from ``now`` (either way, so a replay cannot
    be held back and sent later), and a body, id or timestamp other than those signed.

    Raises:
        SignatureError: the request is not to be trusted.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get(ID_HEADER)
    stamp = lowered.get(TIMESTAMP_HEADER)
    given = lowered.get(SIGNATURE_HEADER)
    if not (msg_id and stamp and given):
        raise SignatureError(f"missing {ID_HEADER}, {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
    try:
        timestamp = int(stamp)
    except ValueError as e:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not Unix seconds") from e
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > max_age:
        raise SignatureError(f"timestamp is {age:.0f} s away from now (more than {max_age:g})")
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    expected = {_mac(secret, msg_id, timestamp, body).encode() for secret in candidates}
    for part in given.split():
        version, _, signature = part.partition(",")
        if version != "v1":
            continue
        found = signature.encode("ascii", errors="replace")
        # Compare with every expected value: timing says nothing about which matched.
        if any([hmac.compare_digest(found, e) for e in expected]):  # noqa: C419
            return
    raise SignatureError("no signature matches")


def _mac(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest_ = hmac.new(webhook_key(secret), signed, hashlib.sha256).digest()
    return base64.b64encode(digest_).decode()
