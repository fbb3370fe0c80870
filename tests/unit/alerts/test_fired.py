"""pipeline.alerts.fired: what the deliver stage remembers of an alert, and until when."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.alerts.fired import Fired, expired, outcome
from pipeline.alerts.rulebook import Pending
from schemas import Alert

DAY = 86400.0


def test_marks_round_trip_and_failed_ones_are_not_done() -> None:
    for mark in (Fired("sent", 10.0), Fired("held", 11.0), Fired("failed", 12.0, (1, 3))):
        assert Fired.from_text(mark.to_text()) == mark
    assert Fired.from_text(None) is None
    assert Fired("sent", 1.0).done and Fired("held", 1.0).done
    assert not Fired("failed", 1.0, (0,)).done


def test_outcome_names_the_channels_that_failed() -> None:
    assert outcome([], at=5.0) == Fired("sent", 5.0)
    assert outcome([2, 0, 2], at=5.0) == Fired("failed", 5.0, (0, 2))


def test_marks_from_before_horizons_still_read_and_never_expire() -> None:
    assert Fired.from_text("sent") == Fired("sent")
    assert Fired.from_text("failed") == Fired("failed")  # no channels: all of them
    assert expired([("r/a", "sent")], now=1e12, horizon_seconds=DAY) == []


def test_marks_older_than_the_horizon_expire() -> None:
    now = 100 * DAY
    marks = [
        ("r/old", Fired("sent", now - 31 * DAY).to_text()),
        ("r/edge", Fired("sent", now - 30 * DAY).to_text()),  # exactly at the horizon: kept
        ("r/new", Fired("held", now - DAY).to_text()),
        ("r/failed-old", Fired("failed", now - 40 * DAY, (0,)).to_text()),
    ]
    assert expired(marks, now=now, horizon_seconds=30 * DAY) == ["r/old", "r/failed-old"]


def test_idle_rule_state_expires_but_not_while_alerts_wait() -> None:
    now = 100 * DAY
    alert = Alert(id="a1", rule_id="r", rule_name="R", query="q", story_id="s",
                  article_id="s", published_at=datetime(2024, 3, 1, tzinfo=UTC),
                  matched_at=datetime(2024, 3, 1, tzinfo=UTC))
    assert Pending(last_sent=now - 31 * DAY).expired(now=now, horizon_seconds=30 * DAY)
    assert Pending().expired(now=now, horizon_seconds=30 * DAY)
    assert not Pending(last_sent=now - DAY).expired(now=now, horizon_seconds=30 * DAY)
    waiting = Pending(last_sent=now - 31 * DAY, due=now - 31 * DAY, alerts=[alert])
    assert not waiting.expired(now=now, horizon_seconds=30 * DAY)
