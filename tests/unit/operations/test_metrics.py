"""pipeline.operations.metrics: the helpers move the right series, and /metrics serves them."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client import REGISTRY

from pipeline.core.settings import Settings
from pipeline.operations import metrics


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_count_and_dead_lettered_move_articles_and_reasons() -> None:
    before_in = _value("newsflow_articles_total", stage="t_validate", outcome="in")
    before_dl = _value("newsflow_articles_total", stage="t_validate", outcome="dead_letter")
    before_json = _value("newsflow_dead_letters_total", stage="t_validate", reason="invalid_json")

    metrics.count("t_validate", metrics.IN, 5)
    metrics.dead_lettered("t_validate", ["invalid_json", "invalid_json", "missing_body"])

    assert _value("newsflow_articles_total", stage="t_validate", outcome="in") == before_in + 5
    assert _value("newsflow_articles_total", stage="t_validate",
                  outcome="dead_letter") == before_dl + 3
    assert _value("newsflow_dead_letters_total", stage="t_validate",
                  reason="invalid_json") == before_json + 2
    assert _value("newsflow_dead_letters_total", stage="t_validate", reason="missing_body") >= 1


def test_observe_batch_records_size_and_time_per_stage() -> None:
    metrics.observe_batch("t_batch", 32, 0.5)
    metrics.observe_batch("t_batch", 3)  # size only
    assert _value("newsflow_batch_size_count", stage="t_batch") == 2
    assert _value("newsflow_batch_size_sum", stage="t_batch") == 35
    assert _value("newsflow_batch_seconds_count", stage="t_batch") == 1
    assert _value("newsflow_batch_size_bucket", stage="t_batch", le="5.0") == 1


def test_index_latency_skips_missing_and_future_timestamps() -> None:
    before = _value("newsflow_index_latency_seconds_count")
    before_sum = _value("newsflow_index_latency_seconds_sum")
    metrics.observe_index_latency([100.0, 0, 103.0, 500.0], now=104.0)
    assert _value("newsflow_index_latency_seconds_count") == before + 2
    assert _value("newsflow_index_latency_seconds_sum") - before_sum == 5.0  # 4 s + 1 s


def test_timed_bulk_labels_failures_and_reraises() -> None:
    before = _value("newsflow_es_bulk_seconds_count", outcome="error")
    try:
        with metrics.timed_bulk():
            raise RuntimeError("cluster gone")
    except RuntimeError:
        pass
    else:
        raise AssertionError("timed_bulk swallowed the error")
    assert _value("newsflow_es_bulk_seconds_count", outcome="error") == before + 1


def test_set_lag_replaces_series() -> None:
    metrics.set_lag([("t.raw", 0, 7), ("t.raw", 1, 0)])
    assert _value("newsflow_consumer_lag", topic="t.raw", partition="0") == 7
    metrics.set_lag([("t.raw", 1, 2)])
    assert REGISTRY.get_sample_value("newsflow_consumer_lag",
                                     {"topic": "t.raw", "partition": "0"}) is None
    assert _value("newsflow_consumer_lag", topic="t.raw", partition="1") == 2


def test_delivery_counter_and_metrics_endpoint_on_a_free_port() -> None:
    metrics.count_delivery("webhook", "ok")
    port = metrics.start_metrics_server(0, addr="127.0.0.1")
    assert port > 0
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'newsflow_alert_deliveries_total{channel="webhook",outcome="ok"}' in body
    assert "# TYPE newsflow_articles_total counter" in body


def test_count_deliveries_one_outcome_per_channel() -> None:
    ok = _value("newsflow_alert_deliveries_total", channel="t_hook", outcome="ok")
    failed = _value("newsflow_alert_deliveries_total", channel="t_hook", outcome="failed")
    metrics.count_deliveries(["t_hook", "t_hook", "t_mail"], ["t_hook"])
    assert _value("newsflow_alert_deliveries_total", channel="t_hook", outcome="ok") == ok + 1
    assert _value("newsflow_alert_deliveries_total", channel="t_hook",
                  outcome="failed") == failed + 1
    assert _value("newsflow_alert_deliveries_total", channel="t_mail", outcome="ok") >= 1


def _outward_address() -> str | None:
    """An address of this host other than loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))  # no packet is sent for a UDP connect
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


@pytest.mark.security
def test_metrics_listen_on_loopback_unless_configured() -> None:
    assert Settings().metrics.host == "127.0.0.1"
    port = metrics.start_metrics_server(0)  # the default address
    assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).status_code == 200
    outward = _outward_address()
    if outward is None:
        pytest.skip("this host has no address besides loopback")
    with pytest.raises(ConnectionRefusedError), socket.create_connection((outward, port), 5):
        pass


def test_refetch_warnings_of_the_faust_fixes_are_counted_by_reason() -> None:
    import logging

    logger = logging.getLogger("newsflow.test-refetch")
    logger.addFilter(metrics.RefetchCounter())
    before = {r: _value("newsflow_refetches_total", reason=r)
              for r in ("rebalance_drop", "undelivered", "stalled", "gap")}
    # the templates agents/faust_fixes.py logs with
    logger.warning("%s[%d]: messages from offset %d dropped in a rebalance; "
                   "fetching them again", "news.raw", 0, 10)
    logger.warning("%s[%d]: offsets %d..%d were fetched but never processed; "
                   "fetching them again", "news.raw", 1, 3, 9)
    logger.warning("%s[%d]: offsets %d..%d fetched but not delivered; fetching them again",
                   "news.raw", 1, 3, 9)
    logger.warning("%s[%d]: got offset %d before %d..%d; fetching them again",
                   "news.raw", 2, 20, 12, 19)
    logger.warning("%s[%d]: got offset %d before %d..%d; fetching them again",
                   "news.raw", 3, 20, 12, 19)
    logger.warning("unrelated warning")
    after = {r: _value("newsflow_refetches_total", reason=r) for r in before}
    assert {r: after[r] - before[r] for r in before} == {
        "rebalance_drop": 1, "undelivered": 1, "stalled": 1, "gap": 2}
