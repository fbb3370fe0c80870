"""pipeline.alerts.ledger: send now or hold, digests due on time, nothing sent twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.alerts.fired import Fired
from pipeline.alerts.ledger import AlertLedger, fired_key
from schemas import AlertRule
from tests.unit.alerts.channels.test_webhook import T0, alert


def _rule(**fields: object) -> AlertRule:
    return AlertRule(id="border-watch", name="Border watch", query="asylum", created_at=T0,
                     updated_at=T0, **fields)  # type: ignore[arg-type]  # fields vary per test


def _ledger() -> tuple[AlertLedger, dict[str, str], dict[str, str]]:
    fired: dict[str, str] = {}
    pending: dict[str, str] = {}
    return AlertLedger(fired, pending), fired, pending


def test_instant_rule_sends_every_alert_and_never_the_same_twice() -> None:
    ledger, fired, pending = _ledger()
    rule, first = _rule(), alert(1)
    assert ledger.is_new(first) and ledger.sends_now(rule, now=100.0)
    ledger.sent(rule, first, failed=[], now=100.0)
    assert Fired.from_text(fired[fired_key(first)]) == Fired("sent", 100.0)
    assert not ledger.is_new(first)
    assert pending == {}  # instant rules without a throttle keep no per-rule state


def test_throttled_rule_holds_what_arrives_inside_the_gap_and_flushes_it_as_one() -> None:
    ledger, fired, _ = _ledger()
    rule = _rule(throttle_seconds=60)
    ledger.sent(rule, alert(1), failed=[], now=1000.0)
    assert not ledger.sends_now(rule, now=1010.0)
    ledger.hold(rule, alert(2), now=1010.0)
    ledger.hold(rule, alert(3), now=1020.0)
    assert Fired.from_text(fired[fired_key(alert(2))]).state == "held"  # type: ignore[union-attr]
    assert not ledger.is_new(alert(3))
    assert ledger.due_rules(now=1059.0, owned=lambda _: True) == []
    assert ledger.due_rules(now=1060.0, owned=lambda _: False) == []  # another worker's rule
    assert ledger.due_rules(now=1060.0, owned=lambda _: True) == [rule.id]
    waiting = ledger.waiting(rule.id, now=1060.0)
    assert [a.id for a in waiting] == [alert(2).id, alert(3).id]
    ledger.flushed(rule, rule.id, waiting, now=1060.0)
    assert ledger.waiting(rule.id, now=5000.0) == []
    assert not ledger.sends_now(rule, now=1100.0)  # the flush started a new gap
    assert ledger.sends_now(rule, now=1120.0)


class _Writes(dict[str, str]):
    """A table that counts writes: each one is a changelog record in the worker."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, str]] = []

    def __setitem__(self, key: str, value: str) -> None:
        self.writes.append((key, value))
        super().__setitem__(key, value)


def test_an_alert_done_before_has_its_records_written_again_unchanged() -> None:
    fired, pending = _Writes(), _Writes()
    ledger = AlertLedger(fired, pending)
    rule = _rule(throttle_seconds=60)
    ledger.sent(rule, alert(1), failed=[], now=1000.0)
    ledger.hold(rule, alert(2), now=1010.0)
    before = (dict(fired), dict(pending))
    fired.writes.clear()
    pending.writes.clear()
    for done in (alert(1), alert(2)):
        assert not ledger.is_new(done)
        ledger.write_again(done)
    assert fired.writes == [(fired_key(alert(1)), before[0][fired_key(alert(1))]),
                            (fired_key(alert(2)), before[0][fired_key(alert(2))])]
    assert pending.writes == [(rule.id, before[1][rule.id])]  # only alert 2 waits in it
    assert (dict(fired), dict(pending)) == before
    ledger.write_again(alert(3))  # never seen: nothing to write
    assert len(fired.writes) == 2 and len(pending.writes) == 1


def test_an_alert_still_waiting_is_not_new_even_if_its_fired_record_was_lost() -> None:
    ledger, fired, _ = _ledger()
    rule = _rule(mode="hourly")
    ledger.hold(rule, alert(1), now=T0.timestamp())
    del fired[fired_key(alert(1))]  # a crash between the two writes
    assert not ledger.is_new(alert(1))


def test_hourly_digest_is_due_at_the_top_of_the_hour() -> None:
    ledger, _, _ = _ledger()
    rule = _rule(mode="hourly")
    at = datetime(2025, 3, 4, 12, 20, tzinfo=UTC).timestamp()
    assert not ledger.sends_now(rule, now=at)
    ledger.hold(rule, alert(1), now=at)
    top = datetime(2025, 3, 4, 13, 0, tzinfo=UTC).timestamp()
    assert ledger.waiting(rule.id, now=top - 1) == []
    assert [a.id for a in ledger.waiting(rule.id, now=top)] == [alert(1).id]


def test_alerts_of_a_deleted_rule_are_dropped_at_flush() -> None:
    ledger, _, _ = _ledger()
    rule = _rule(mode="daily")
    at = T0.timestamp()
    ledger.hold(rule, alert(1), now=at)
    later = (T0 + timedelta(days=1)).timestamp()
    ledger.flushed(None, rule.id, ledger.waiting(rule.id, now=later), now=later)
    assert ledger.state(rule.id).alerts == [] and ledger.state(rule.id).due is None




def test_a_failed_alert_is_new_again_for_the_channels_that_failed_only() -> None:
    ledger, _, _ = _ledger()
    rule, first = _rule(), alert(1)
    ledger.sent(rule, first, failed=[1], now=100.0)
    assert ledger.is_new(first) and ledger.retry_channels(first) == (1,)
    ledger.sent(rule, first, failed=[], now=200.0)  # the replay went through
    assert not ledger.is_new(first) and ledger.retry_channels(first) is None


def test_state_past_the_horizon_is_listed_for_deletion() -> None:
    ledger, _, pending = _ledger()
    day = 86400.0
    instant, throttled = _rule(), _rule(throttle_seconds=60)
    ledger.sent(instant, alert(1), failed=[], now=0.0)
    ledger.sent(throttled, alert(2), failed=[], now=10 * day)
    horizon = {"horizon_seconds": 30 * day, "owned": lambda _: True}
    assert ledger.expired_marks(now=31 * day, **horizon) == [fired_key(alert(1))]
    assert ledger.idle_rules(now=31 * day, **horizon) == []
    assert sorted(ledger.expired_marks(now=41 * day, **horizon)) == sorted(
        [fired_key(alert(1)), fired_key(alert(2))])
    assert ledger.idle_rules(now=41 * day, **horizon) == list(pending)
    nobody = {"horizon_seconds": 30 * day, "owned": lambda _: False}
    assert ledger.expired_marks(now=41 * day, **nobody) == []
    assert ledger.idle_rules(now=41 * day, **nobody) == []


def test_forgetting_deletes_only_marks_still_past_the_horizon() -> None:
    ledger, fired, _ = _ledger()
    day = 86400.0
    rule = _rule()
    for n in (1, 2, 3):
        ledger.sent(rule, alert(n), failed=[], now=0.0)
    found = ledger.expired_marks(now=31 * day, horizon_seconds=30 * day, owned=lambda _: True)
    assert len(found) == 3
    ledger.sent(rule, alert(2), failed=[1], now=31 * day)  # replayed since: a new mark
    del fired[fired_key(alert(3))]  # gone already
    assert ledger.forget_marks(found, now=31 * day, horizon_seconds=30 * day) == 1
    assert list(fired) == [fired_key(alert(2))]
    assert ledger.retry_channels(alert(2)) == (1,)
    assert ledger.is_new(alert(1))  # forgotten: handled as new if it comes back
