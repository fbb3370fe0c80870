"""What every alert channel shares: the interface, its one error, the idempotency key.

A channel is a sink in the sense of STYLE.md: constructed without I/O, then ``send`` one
rule's alerts — one alert is an instant message, several are a digest in one message. It
raises :class:`DeliveryError` when it gives up, and ``retryable`` tells the caller whether
trying again later can help (a timeout can; a 404 or a refused target cannot).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from pipeline.core.errors import NewsflowError
from schemas import Alert, AlertRule


class DeliveryError(NewsflowError):
    """A channel gave up on a message.

    ``reason`` is one line fit for a log or a dead letter: it names the target by scheme,
    host and port only, because webhook paths are often secrets (Slack's are).
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        kind: str | None = None,
        status: int | None = None,
        attempts: int = 1,
    ) -> None:
        self.reason = reason
        self.retryable = retryable
        self.kind = kind
        self.status = status
        self.attempts = attempts
        prefix = f"{kind}: " if kind else ""
        super().__init__(f"{prefix}{reason}")


class TargetRefusedError(DeliveryError):
    """The target address is private/loopback/…; refused before any connection."""

    def __init__(self, reason: str, *, kind: str | None = None) -> None:
        super().__init__(reason, retryable=False, kind=kind)


class Channel(Protocol):
    kind: str

    async def send(self, alerts: Sequence[Alert], *, rule: AlertRule, idempotency_key: str) -> None:
        """Deliver ``alerts`` (all of ``rule``) as one message, or raise DeliveryError."""
        ...


def idempotency_key(rule_id: str, alerts: Sequence[Alert]) -> str:
    """The same alerts give the same key, whatever their order or repetition.

    Alert ids are deterministic per rule and story, so a redelivery after a crash carries
    the key of the first attempt and a receiver that dedupes on it sees one message.
    """
    ids = sorted({alert.id for alert in alerts})
    digest = hashlib.sha256("\x00".join([rule_id, *ids]).encode())
    return digest.hexdigest()[:40]


def check_batch(alerts: Sequence[Alert], rule: AlertRule) -> None:
    """One message is about one rule: mixing rules is a wiring bug, not a delivery error."""
    if not alerts:
        raise ValueError("no alerts to send")
    strangers = {a.rule_id for a in alerts if a.rule_id != rule.id}
    if strangers:
        raise ValueError(f"alerts of rules {sorted(strangers)} sent with rule {rule.id!r}")
