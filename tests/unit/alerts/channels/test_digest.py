"""Digest selection and rendering, and the idempotency key the channels share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import HttpUrl

from pipeline.alerts.channels import group_by_rule, idempotency_key
from pipeline.alerts.channels.base import check_batch
from pipeline.alerts.channels.digest import build, render_html, render_text
from schemas import Alert, AlertRule

T0 = datetime(2025, 5, 6, 8, 0, tzinfo=UTC)
RULE = AlertRule(id="r1", name="Returns", query="returnees", created_at=T0, updated_at=T0)


def alert(n: int, *, rule_id: str = "r1", title: str | None = None) -> Alert:
    return Alert(
        id=Alert.make_id(rule_id, f"s{n}"),
        rule_id=rule_id,
        rule_name="Returns",
        query="returnees",
        story_id=f"s{n}",
        article_id=f"a{n}",
        title=title,
        url=HttpUrl(f"https://news.example.org/{n}"),
        published_at=T0 + timedelta(minutes=n),
        matched_at=T0 + timedelta(minutes=n),
    )


def test_build_drops_repeats_orders_newest_first_and_counts_the_rest() -> None:
    d = build([alert(1), alert(3), alert(2), alert(3), alert(4)], rule=RULE, max_items=2)
    assert [a.story_id for a in d.shown] == ["s4", "s3"]
    assert d.more == 2 and d.total == 4 and not d.is_instant
    assert d.headline == "Returns: 4 new articles"


def test_single_alert_headline_uses_its_title_or_a_placeholder() -> None:
    assert build(
        [alert(1, title="  Families\\nreturn home ")], rule=RULE, max_items=5
    ).headline == ("Returns: Families\\nreturn home")
    assert build([alert(1, title="A\nB")], rule=RULE, max_items=5).headline == "Returns: A B"
    assert build([alert(1)], rule=RULE, max_items=5).headline == "Returns: (untitled article)"


def test_renderings_escape_html_and_list_every_shown_article() -> None:
    d = build([alert(1, title="<script>x</script>"), alert(2)], rule=RULE, max_items=5)
    html = render_html(d)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<li>") == 2
    text = render_text(d)
    assert "https://news.example.org/1" in text and "https://news.example.org/2" in text


def test_group_by_rule_gives_one_batch_per_rule() -> None:
    groups = group_by_rule([alert(1), alert(2, rule_id="r2"), alert(3)])
    assert {k: [a.story_id for a in v] for k, v in groups.items()} == {
        "r1": ["s1", "s3"],
        "r2": ["s2"],
    }


def test_idempotency_key_ignores_order_and_repeats_but_not_content() -> None:
    key = idempotency_key("r1", [alert(1), alert(2)])
    assert key == idempotency_key("r1", [alert(2), alert(1), alert(2)])
    assert key != idempotency_key("r1", [alert(1)])
    assert key != idempotency_key("r2", [alert(1), alert(2)])


def test_headline_too_long_is_cut() -> None:
    d = build([alert(1, title="x" * 500)], rule=RULE, max_items=1)
    assert d.headline == "Returns: " + "x" * 199 + "…"


@pytest.mark.parametrize("bad", [[], [alert(1, rule_id="r2")]])
def test_channels_refuse_empty_or_foreign_batches(bad: list[Alert]) -> None:
    with pytest.raises(ValueError):
        check_batch(bad, RULE)
