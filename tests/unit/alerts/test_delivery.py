"""pipeline.alerts.delivery: a message to every channel of a rule, and the delivery metric."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY
from pydantic import HttpUrl, SecretStr

from pipeline.alerts.channels import http_client
from pipeline.alerts.delivery import deliver
from schemas import AlertRule, WebhookChannel
from tests.support import Receiver
from tests.unit.alerts.channels.test_webhook import SECRET, T0, alert, settings


def _deliveries(outcome: str) -> float:
    sample = REGISTRY.get_sample_value(
        "newsflow_alert_deliveries_total", {"channel": "webhook", "outcome": outcome})
    return sample or 0.0


def _rule(url: str) -> AlertRule:
    return AlertRule(id="border-watch", name="Border watch", query="asylum", created_at=T0,
                     updated_at=T0, channels=[WebhookChannel(url=HttpUrl(url),
                                                             secrets=[SecretStr(SECRET)])])


def _deliver(rule: AlertRule) -> list[object]:
    cfg = settings(alerts__deliver_rounds=1)

    async def go() -> list[object]:
        async with http_client(cfg) as http:
            return list(await deliver(rule, [alert(1)], settings=cfg, http=http))

    return asyncio.run(go())


def test_a_delivered_alert_counts_ok_and_a_refused_one_counts_failed() -> None:
    ok, failed = _deliveries("ok"), _deliveries("failed")
    accepting, refusing = Receiver(), Receiver(status=400)
    try:
        assert _deliver(_rule(accepting.url)) == []
        assert len(accepting.requests) == 1
        assert _deliveries("ok") == ok + 1
        assert len(_deliver(_rule(refusing.url))) == 1
        assert _deliveries("failed") == failed + 1
    finally:
        accepting.close()
        refusing.close()
