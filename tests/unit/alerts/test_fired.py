"""pipeline.alerts.fired: what the deliver stage remembers of an alert, and until when."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from rocksdict import Options, Rdict

from pipeline.alerts.fired import Fired, expired, expired_in, outcome, time_entries
from pipeline.alerts.rulebook import Pending
from pipeline.core import derived
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


def _time_entries(key: bytes, value: bytes) -> Iterable[tuple[bytes, bytes]]:
    return time_entries(key.decode(), value.decode())


def test_the_time_index_finds_what_reading_every_mark_finds(tmp_path: Path) -> None:
    """The index beside the marks (``time_entries``, kept by ``derived.write``) lists the
    same expired keys as parsing every mark, oldest first, through rewrites and deletes."""
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    db = Rdict(str(tmp_path / "fired"), options=options)
    derived.family(db, Options(raw_mode=True), _time_entries)
    family = db.get_column_family(derived.FAMILY)
    now = 100 * DAY
    marks = {
        "r/old": Fired("sent", now - 31 * DAY).to_text(),
        "r/older": Fired("failed", now - 40 * DAY, (0,)).to_text(),
        "r/edge": Fired("sent", now - 30 * DAY).to_text(),  # exactly at the horizon: kept
        "r/new": Fired("held", now - DAY).to_text(),
        "r/legacy": "sent",  # no time: never expires
        "r/again": Fired("held", now - 50 * DAY).to_text(),
        "r/gone": Fired("sent", now - 60 * DAY).to_text(),
        "s/old": Fired("sent", now - 30 * DAY - 0.5).to_text(),
    }
    for key, text in marks.items():
        derived.write(db, [(key.encode(), text.encode())], _time_entries, family=family)
    # held long ago, sent just now: only its new time counts
    marks["r/again"] = Fired("sent", now - 2 * DAY).to_text()
    derived.write(db, [(b"r/again", marks["r/again"].encode())], _time_entries, family=family)
    del marks["r/gone"]
    derived.write(db, [(b"r/gone", None)], _time_entries, family=family)

    index = derived.View(family)
    found = expired_in(index, now=now, horizon_seconds=30 * DAY, limit=100)
    assert found == ["r/older", "r/old", "s/old"]  # oldest first
    assert sorted(found) == sorted(expired(marks.items(), now=now, horizon_seconds=30 * DAY))
    assert expired_in(index, now=now, horizon_seconds=30 * DAY, limit=2) == found[:2]
    assert len(list(family.keys())) == len(marks) - 1  # one entry per mark with a time
    assert time_entries("r/legacy", "sent") == [] and time_entries("r/none", None) == []
