"""pipeline.core.retry: retried until done, with a log line per wait; other errors pass."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pipeline.core import retry
from pipeline.core.retry import retry_after_seconds, until_done


class _Flaky:
    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"attempt {self.calls} failed")
        return "done"


@pytest.fixture(autouse=True)
def _no_real_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "FIRST_DELAY", 0.001)


def test_retries_until_the_attempt_succeeds_and_logs_each_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky = _Flaky(failures=3)
    with caplog.at_level(logging.WARNING):
        result = asyncio.run(until_done(lambda: flaky(), retry_on=ConnectionError,
                                        what="index: 3 articles", log=logging.getLogger("t")))
    assert (result, flaky.calls) == ("done", 4)
    waits = [r.getMessage() for r in caplog.records]
    assert len(waits) == 3 and waits[0].startswith("index: 3 articles: attempt 1 failed")


def test_an_error_it_was_not_told_to_retry_is_raised_at_once() -> None:
    flaky = _Flaky(failures=1, error=ValueError)
    with pytest.raises(ValueError):
        asyncio.run(until_done(flaky, retry_on=ConnectionError, what="x",
                               log=logging.getLogger("t")))
    assert flaky.calls == 1


def test_retry_after_reads_seconds_and_http_dates_and_ignores_the_rest() -> None:
    assert retry_after_seconds("120") == 120.0 and retry_after_seconds(" 7 ") == 7.0
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    for header in (format_datetime(in_an_hour, usegmt=True),  # "... GMT"
                   format_datetime(in_an_hour.replace(tzinfo=None))):  # "-0000": UTC too
        seconds = retry_after_seconds(header)
        assert seconds is not None and 3000 < seconds <= 3600, header
    assert retry_after_seconds("Mon, 05 Jan 2015 10:00:00 GMT") == 0.0  # past: go now
    for unreadable in (None, "", "soon", "-5", "Mon, 99 Foo 2015"):
        assert retry_after_seconds(unreadable) is None, unreadable
