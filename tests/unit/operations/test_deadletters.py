"""pipeline.operations.deadletters without a broker: filters and where a replay goes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.operations.deadletters import (
    DeadLetterError,
    StoredLetter,
    payload_of,
    plan_replay,
    replay_target,
    select,
)
from schemas import Alert, DeadLetter
from tests.support import settings_with

SETTINGS = settings_with(topics__raw="x.raw", topics__enriched="x.enriched",
                         topics__dedup="x.dedup", topics__alerts="x.alerts",
                         topics__deadletter="x.deadletter")


def _letter(stage: str, *, reason: str = "r", key: str | None = "k1", topic: str | None = None,
            payload: bytes = b"{}") -> DeadLetter:
    return DeadLetter(stage=stage, reason=reason, error="e", key=key,  # type: ignore[arg-type]
                      payload_b64=DeadLetter.encode(payload), topic=topic,
                      first_seen=datetime(2024, 3, 1, tzinfo=UTC))


@pytest.mark.parametrize(("stage", "topic", "expected"), [
    ("validate", "x.raw", "x.raw"),
    ("enrich", "x.raw", "x.raw"),
    ("enrich", "x.dedup", "x.dedup"),  # the dedup step dead-letters enriched articles
    ("index", "x.enriched", "x.enriched"),  # an EnrichedArticle: news.raw would refuse it
    ("validate", "other.raw", "x.raw"),  # from another deployment: routed by stage
    ("index", None, "x.raw"),
    ("publish", None, "x.raw"),
])
def test_replay_goes_back_to_the_input_of_the_failing_stage(
    stage: str, topic: str | None, expected: str
) -> None:
    assert replay_target(_letter(stage, topic=topic), SETTINGS) == (expected, b"k1")


def test_deliver_letters_go_to_alerts_keyed_by_rule_id() -> None:
    alert = Alert(id="a1", rule_id="border-rule", rule_name="Border", query="border",
                  story_id="s1", article_id="art-1",
                  published_at=datetime(2024, 3, 1, tzinfo=UTC),
                  matched_at=datetime(2024, 3, 1, tzinfo=UTC))
    letter = _letter("deliver", key="whatever", payload=alert.model_dump_json().encode())
    assert replay_target(letter, SETTINGS) == ("x.alerts", b"border-rule")
    broken = _letter("deliver", key="kept", payload=b"not an alert")
    assert replay_target(broken, SETTINGS) == ("x.alerts", b"kept")


def test_stage_without_a_route_is_refused() -> None:
    with pytest.raises(DeadLetterError, match="no replay route"):
        replay_target(_letter("alert", topic="elsewhere"), SETTINGS)


def test_select_combines_filters() -> None:
    stored = [
        StoredLetter(0, 0, _letter("validate", reason="invalid_json", key="a")),
        StoredLetter(0, 1, _letter("validate", reason="missing_body", key="b")),
        StoredLetter(0, 2, _letter("enrich", reason="invalid_json", key="c")),
    ]
    assert [s.offset for s in select(stored, stage="validate")] == [0, 1]
    assert [s.offset for s in select(stored, reason="invalid_json")] == [0, 2]
    assert [s.offset for s in select(stored, stage="validate", reason="invalid_json")] == [0]
    assert [s.offset for s in select(stored, key="c")] == [2]
    assert len(select(stored)) == 3


def test_replay_plan_skips_what_it_cannot_send_and_keeps_the_rest() -> None:
    good = _letter("validate", key="a", payload=b'{"id": "a"}')
    not_base64 = _letter("validate", key="b").model_copy(update={"payload_b64": "%%% no"})
    no_route = _letter("alert", key="c", topic="elsewhere")
    assert payload_of(not_base64) is None and payload_of(good) == b'{"id": "a"}'

    plan = plan_replay([StoredLetter(0, i, x) for i, x in enumerate([good, not_base64, no_route])],
                       SETTINGS)
    assert [(r.letter.offset, r.topic, r.key, r.payload) for r in plan.send] == [
        (0, "x.raw", b"a", b'{"id": "a"}')]
    assert [(s.letter.offset, s.reason) for s in plan.skipped] == [
        (1, "its payload is not valid base64"),
        (2, "no replay route for stage 'alert' from topic 'elsewhere'")]
