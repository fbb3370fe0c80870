"""One message of one rule to every channel of that rule, in rounds, and what failed.

The channels already retry inside (``webhook_max_attempts`` with backoff); a round here
is a second, slower line of retries for outages longer than that.  A refusal that will
not change (a 4xx, a refused target) ends at once.  Nothing here raises on a delivery
failure: the caller gets the failures and dead-letters them, so no alert vanishes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import httpx

from pipeline.alerts.channels import DeliveryError, channel_for, idempotency_key
from pipeline.core.settings import Settings
from pipeline.operations.metrics import count_deliveries
from schemas import Alert, AlertRule, DeadLetter
from schemas.alerts import EmailChannel, SlackChannel, WebhookChannel

log = logging.getLogger("newsflow.deliver")


@dataclass(frozen=True)
class Failure:
    """A channel that gave up on a message, after ``rounds`` rounds."""

    kind: str
    error: DeliveryError
    rounds: int
    channel: int = 0  # position in rule.channels

    @property
    def reason(self) -> str:
        """Short and machine-readable: ``webhook_400``, ``slack_gave_up``, ``email_refused``."""
        if self.error.status is not None:
            return f"{self.kind}_{self.error.status}"
        return f"{self.kind}_{'gave_up' if self.error.retryable else 'refused'}"


async def deliver(
    rule: AlertRule,
    alerts: Sequence[Alert],
    *,
    settings: Settings,
    http: httpx.AsyncClient,
    only: Collection[int] = (),
) -> list[Failure]:
    """Send ``alerts`` (one instant alert, or a digest) to each channel of ``rule``, or
    only to the channels at positions ``only`` (a retry of those that failed).

    Channels are tried concurrently; every attempt of every round carries the same
    ``Idempotency-Key``, so a receiver sees one message even when we repeat it.
    """
    key = idempotency_key(rule.id, alerts)
    positions = [i for i in range(len(rule.channels)) if not only or i in only]
    results = await asyncio.gather(
        *(_to_channel(rule.channels[i], rule, alerts, key, settings=settings, http=http)
          for i in positions)
    )
    failures = [replace(failure, channel=i)
                for i, failure in zip(positions, results, strict=True) if failure is not None]
    count_deliveries((rule.channels[i].kind for i in positions), (f.kind for f in failures))
    return failures


async def _to_channel(
    config: WebhookChannel | SlackChannel | EmailChannel,
    rule: AlertRule,
    alerts: Sequence[Alert],
    key: str,
    *,
    settings: Settings,
    http: httpx.AsyncClient,
) -> Failure | None:
    channel = channel_for(config, settings, http=http)
    delay = settings.alerts.deliver_backoff_seconds
    rounds = settings.alerts.deliver_rounds
    for attempt in range(1, rounds + 1):
        try:
            await channel.send(alerts, rule=rule, idempotency_key=key)
            return None
        except DeliveryError as e:
            if not e.retryable or attempt == rounds:
                return Failure(channel.kind, e, attempt)
            log.warning("deliver: rule %s via %s: %s; round %d/%d again in %.1fs",
                        rule.id, channel.kind, e, attempt + 1, rounds, delay)
        except ValueError as e:  # a wiring bug (mixed rules, empty batch): never retried
            return Failure(channel.kind, DeliveryError(str(e), retryable=False), attempt)
        await asyncio.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def failure_letter(
    alert: Alert,
    failure: Failure,
    *,
    first_seen: datetime,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> DeadLetter:
    """The dead letter for one alert a channel gave up on: the Alert JSON as payload."""
    return DeadLetter(
        stage="deliver",
        reason=failure.reason,
        error=" ".join(str(failure.error).split())[:500],
        key=alert.rule_id,
        payload_b64=DeadLetter.encode(alert.model_dump_json().encode()),
        topic=topic,
        partition=partition,
        offset=offset,
        first_seen=first_seen,
        attempts=max(1, failure.error.attempts) * failure.rounds,
    )
