"""pipeline.alerts.rulebook: the rule book, alerts from matches, throttle and digest timing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline.alerts.rulebook import (
    Pending,
    RuleBook,
    alerts_for,
    build_alert,
    due_at,
    sends_at_once,
)
from pipeline.alerts.store import encode_rule
from pipeline.core.secretbox import SecretBox
from schemas import Alert, AlertRule, EnrichedArticle

_NOW = datetime(2024, 5, 2, 10, 17, 30, tzinfo=UTC)


def _rule(rule_id: str, query: str, **fields: Any) -> AlertRule:
    return AlertRule(id=rule_id, name=rule_id.replace("-", " "), query=query,
                     created_at=_NOW, updated_at=_NOW, **fields)


def _article(article_id: str, body: str, *, story_id: str | None = None,
             source: str = "Desk") -> EnrichedArticle:
    return EnrichedArticle(
        id=article_id, title=f"Title of {article_id}", body=body, source=source,
        url=f"https://news.example.org/{article_id}", published_at=_NOW, ingested_at=_NOW,
        language="en", story_id=story_id or article_id, tags=["border_crossing"],
    )


def _book(box: SecretBox, *rules: AlertRule) -> RuleBook:
    book = RuleBook(box)
    for rule in rules:
        assert book.apply(rule.id.encode(), encode_rule(rule, box)) is None
    return book


SHELTER = "Volunteers opened a new shelter for asylum seekers near the river crossing."


def test_book_matches_enabled_rules_and_follows_updates_and_tombstones(box: SecretBox) -> None:
    book = _book(box, _rule("shelter", "shelter AND asylum"), _rule("river", "river"))
    article = _article("a1", SHELTER)
    assert [r.id for r in book.match(article)] == ["shelter", "river"]

    book.apply(b"river", encode_rule(_rule("river", "river", enabled=False), box))
    assert [r.id for r in book.match(article)] == ["shelter"]
    assert book.get("river") is not None and not book.get("river").enabled  # type: ignore[union-attr]

    book.apply(b"shelter", None)
    assert book.match(article) == []
    assert book.get("shelter") is None

    book.apply(b"river", encode_rule(_rule("river", "river AND crossing"), box))
    assert [r.id for r in book.match(article)] == ["river"]


def test_book_keeps_the_last_good_version_when_a_record_is_bad(box: SecretBox) -> None:
    book = _book(box, _rule("shelter", "shelter"))
    assert book.apply(b"shelter", b'{"id": "shelter"}') is not None
    assert book.apply(b"other", encode_rule(_rule("shelter", "x"), box)) is not None  # key != id
    assert [r.id for r in book.match(_article("a1", SHELTER))] == ["shelter"]
    assert len(book) == 1


def test_alert_id_is_per_rule_and_story_so_copies_and_replays_share_it() -> None:
    rule = _rule("shelter", "shelter")
    original = _article("wire-1", SHELTER)
    copy = _article("outlet-9", SHELTER + " (Reuters)", story_id="wire-1", source="Outlet")
    first = build_alert(rule, original, matched_at=_NOW)
    assert first.id == build_alert(rule, copy, matched_at=datetime.now(UTC)).id
    assert first.id == Alert.make_id("shelter", "wire-1")
    assert first.id != build_alert(_rule("other", "shelter"), original, matched_at=_NOW).id
    assert (first.rule_id, first.story_id, first.article_id) == ("shelter", "wire-1", "wire-1")
    assert first.title == "Title of wire-1" and str(first.url).endswith("/wire-1")
    assert first.tags == ["border_crossing"] and first.query == "shelter"


def test_alerts_for_builds_one_alert_per_rule() -> None:
    rules = [_rule("a", "shelter"), _rule("b", "river")]
    alerts = alerts_for(rules, _article("x", SHELTER), matched_at=_NOW)
    assert [a.rule_id for a in alerts] == ["a", "b"]
    assert len({a.id for a in alerts}) == 2


def test_pending_round_trips_and_knows_what_waits() -> None:
    rule = _rule("a", "shelter")
    alerts = alerts_for([rule], _article("x", SHELTER), matched_at=_NOW)
    state = Pending(last_sent=100.5, due=160.5, alerts=alerts)
    back = Pending.from_json(state.to_json())
    assert back == state
    assert back.holds(alerts[0].id) and not back.holds("nope")
    assert back.without([alerts[0].id]) == []
    assert Pending.from_json(None) == Pending()


def test_instant_rules_wait_only_for_their_throttle() -> None:
    now = _NOW.timestamp()
    assert sends_at_once(_rule("a", "x"))
    assert not sends_at_once(_rule("a", "x", throttle_seconds=60))
    assert not sends_at_once(_rule("a", "x", mode="hourly"))
    throttled = _rule("a", "x", throttle_seconds=60)
    assert due_at(throttled, now=now, last_sent=None) == now
    assert due_at(throttled, now=now, last_sent=now - 10) == now + 50
    assert due_at(throttled, now=now, last_sent=now - 600) == now


def test_digests_go_out_at_the_end_of_the_clock_period() -> None:
    now = _NOW.timestamp()
    hourly = _rule("a", "x", mode="hourly")
    assert due_at(hourly, now=now, last_sent=None) == datetime(
        2024, 5, 2, 11, tzinfo=UTC).timestamp()
    daily = _rule("a", "x", mode="daily")
    assert due_at(daily, now=now, last_sent=now - 5) == datetime(
        2024, 5, 3, tzinfo=UTC).timestamp()
    slow = _rule("a", "x", mode="hourly", throttle_seconds=7200)
    assert due_at(slow, now=now, last_sent=now) == now + 7200


def _raw(rule: AlertRule, box: SecretBox) -> tuple[bytes, bytes]:
    return rule.id.encode(), encode_rule(rule, box)


def test_each_record_is_applied_on_its_own(box: SecretBox) -> None:
    # A record written straight to the topic (not through the store), nested 1,990 deep:
    # it used to raise RecursionError out of apply and lose the valid rule after it.
    deep = _rule("deep", "shelter")
    deep_bytes = deep.model_dump_json().replace('"shelter"', '"' + "(" * 1990 + "shelter"
                                                + ")" * 1990 + '"', 1)
    book = RuleBook(box)
    skipped = book.apply_all([
        (None, b"{}"),
        (b"deep", deep_bytes.encode()),
        (b"junk", b"\xff not json"),
        _raw(_rule("river", "river"), box),
        _raw(_rule("kql-shelter", "shelter and not wolves", language="kql"), box),
    ])
    assert len(skipped) == 3 and "nested too deeply" in skipped[1]
    assert [r.id for r in book.match(_article("a1", SHELTER))] == ["river", "kql-shelter"]


def test_a_rule_past_its_budget_is_switched_off_with_its_reason(box: SecretBox) -> None:
    book = _book(box, _rule("shelter", "shelter"), _rule("river", "river"))
    article = _article("a1", SHELTER)
    fine = book.match_within(article, budget=60.0)
    assert [r.id for r in fine.rules] == ["shelter", "river"] and fine.disabled == []

    spent = book.match_within(article, budget=0.0)  # every rule overruns a zero budget
    assert spent.rules == []
    assert [(r.id, r.enabled) for r in spent.disabled] == [("shelter", False), ("river", False)]
    reason = spent.disabled[0].disabled_reason or ""
    assert "budget of 0 ms" in reason and "'a1'" in reason
    assert book.get("shelter") == spent.disabled[0]  # off in this worker at once
    again = book.match_within(article, budget=0.0)
    assert again.rules == [] and again.disabled == []  # reported once, not per article

    # The switched-off version comes back through the topic (as save_disabled writes
    # it) and stays off; enabling it again (a new version without a reason) brings it back.
    book.apply(*_raw(spent.disabled[0], box))
    assert book.match_within(article, budget=60.0).rules == []
    book.apply(*_raw(_rule("shelter", "shelter"), box))
    assert [r.id for r in book.match_within(article, budget=60.0).rules] == ["shelter"]


def test_switching_a_rule_off_is_counted_in_the_metric(box: SecretBox) -> None:
    from prometheus_client import REGISTRY

    from pipeline.alerts.budget import match_with_budget

    def count() -> float:
        name = "newsflow_alert_rules_disabled_total"
        return REGISTRY.get_sample_value(name, {"reason": "budget"}) or 0.0

    book = _book(box, _rule("shelter", "shelter"), _rule("river", "river"))
    before = count()
    assert match_with_budget(book, _article("a1", SHELTER), budget_ms=60_000).disabled == []
    assert count() == before
    assert len(match_with_budget(book, _article("a1", SHELTER), budget_ms=0).disabled) == 2
    assert count() == before + 2
