"""One rule's alerts as one message: which articles, in what order, and the plain renderings.

Channels with their own markup (Slack blocks) take the :class:`Digest` and lay it out
themselves; email uses :func:`render_text` and :func:`render_html` as they are.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas import Alert, AlertRule

_UNTITLED = "(untitled article)"


@dataclass(frozen=True)
class Digest:
    """What one message says: ``shown`` newest first, ``more`` left out for length."""

    rule: AlertRule
    shown: tuple[Alert, ...]
    more: int

    @property
    def total(self) -> int:
        return len(self.shown) + self.more

    @property
    def is_instant(self) -> bool:
        return self.total == 1

    @property
    def headline(self) -> str:
        """``<rule name>: <title>`` for one article, ``<rule name>: N new articles`` else."""
        name = one_line(self.rule.name)
        if self.is_instant:
            return f"{name}: {title_of(self.shown[0])}"
        return f"{name}: {self.total} new articles"


def build(alerts: Sequence[Alert], *, rule: AlertRule, max_items: int) -> Digest:
    """Drop repeated alerts (at-least-once delivery repeats), newest first, cut to max."""
    unique = {alert.id: alert for alert in alerts}.values()
    ordered = sorted(unique, key=lambda a: (a.published_at, a.id), reverse=True)
    return Digest(
        rule=rule, shown=tuple(ordered[:max_items]), more=max(0, len(ordered) - max_items)
    )


def group_by_rule(alerts: Iterable[Alert]) -> dict[str, list[Alert]]:
    """Alerts per rule id, in arrival order: one digest message per rule."""
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.rule_id, []).append(alert)
    return groups


def title_of(alert: Alert) -> str:
    return one_line(alert.title or "") or _UNTITLED


def one_line(text: str, *, limit: int = 200) -> str:
    """Collapse whitespace (a newline in a subject is header injection) and cut to limit."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def details(alert: Alert) -> str:
    """Source · published time · tags, the line under each title."""
    parts = [one_line(alert.source)] if alert.source else []
    parts.append(f"published {when(alert.published_at)}")
    if alert.tags:
        parts.append("tags: " + ", ".join(alert.tags))
    return " · ".join(parts)


def render_text(digest: Digest) -> str:
    lines = [digest.headline, "", f"Rule: {one_line(digest.rule.name)}"]
    lines += [f"Query: {one_line(digest.rule.query, limit=500)}", ""]
    for alert in digest.shown:
        lines.append(f"- {title_of(alert)}")
        lines.append(f"  {details(alert)}")
        if alert.url:
            lines.append(f"  {alert.url}")
    if digest.more:
        lines.append(f"… and {digest.more} more.")
    lines += ["", "-- ", "newsflow keyword alerts"]
    return "\n".join(lines) + "\n"


def render_html(digest: Digest) -> str:
    esc = html.escape
    items = []
    for alert in digest.shown:
        title = esc(title_of(alert))
        if alert.url:
            title = f'<a href="{esc(str(alert.url))}">{title}</a>'
        items.append(f"<li><strong>{title}</strong><br><small>{esc(details(alert))}</small></li>")
    more = f"<p>… and {digest.more} more.</p>" if digest.more else ""
    return (
        "<!DOCTYPE html><html><body>"
        f"<h2>{esc(digest.headline)}</h2>"
        f"<p>Rule: <strong>{esc(one_line(digest.rule.name))}</strong><br>"
        f"Query: <code>{esc(one_line(digest.rule.query, limit=500))}</code></p>"
        f"<ul>{''.join(items)}</ul>{more}"
        "<p><small>newsflow keyword alerts</small></p></body></html>\n"
    )
