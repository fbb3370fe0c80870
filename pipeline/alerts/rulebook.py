"""Alert logic without brokers: which rules hold, what an alert says, when a message is due.

The match and deliver agents are thin loops over these functions.  ``RuleBook`` is the
set of rules a worker follows (the compacted rules topic, applied record by record);
``build_alert`` turns a (rule, article) match into the ``Alert`` on ``news.alerts``; and
``Pending`` with ``due_at`` decide when a throttled or digest rule may send its next
message, so that the decision is the same on every worker and after every restart.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pipeline.alerts.rules import Matcher, RuleSyntaxError
from pipeline.alerts.rules.document import Document
from pipeline.alerts.store import RuleDecodeError, decode_rule
from pipeline.core.secretbox import SecretBox
from schemas import Alert, AlertRule, EnrichedArticle

log = logging.getLogger("newsflow.alerting")

_PERIODS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}


class RuleBook:
    """Every rule of the rules topic, and a ``Matcher`` over the enabled ones.

    Fed record by record (last value per key wins, a tombstone deletes), so replaying
    the topic from the beginning and following it gives the same book on every worker.
    Disabled rules stay in the book (the deliver stage must know they are off) but out
    of the matcher.
    """

    def __init__(self, box: SecretBox) -> None:
        """``box`` opens the channels' sealed secrets (its key is read on first use)."""
        self._box = box
        self._rules: dict[str, AlertRule] = {}
        self._matcher = Matcher()

    def __len__(self) -> int:
        return len(self._rules)

    def get(self, rule_id: str) -> AlertRule | None:
        return self._rules.get(rule_id)

    def apply(self, key: bytes | None, value: bytes | None) -> str | None:
        """Apply one record of the rules topic; returns why it was skipped, or None.

        A record that does not decode, or whose query does not parse, leaves the book as
        it was: the previous version of that rule (if any) keeps running.  Whatever goes
        wrong with one record is answered here, so the records after it are applied.
        """
        try:
            return self._apply(key, value)
        except Exception as e:  # noqa: BLE001 - one bad record must not cost the others
            log.exception("rules topic: record %r could not be applied", key)
            return f"record {key!r}: {type(e).__name__}: {' '.join(str(e).split())[:200]}"

    def apply_all(self, records: Iterable[tuple[bytes | None, bytes | None]]) -> list[str]:
        """Apply records in order, each on its own; returns why each skipped one was."""
        skipped = []
        for key, value in records:
            reason = self.apply(key, value)
            if reason:
                skipped.append(reason)
        return skipped

    def _apply(self, key: bytes | None, value: bytes | None) -> str | None:
        try:
            rule_id, rule = decode_rule(key, value, self._box)
        except RuleDecodeError as e:
            return str(e)
        if rule is None:
            self._rules.pop(rule_id, None)
            self._matcher.remove(rule_id)
            return None
        if rule.enabled:
            try:
                self._matcher.add(rule_id, rule.query, language=rule.language)
            except RuleSyntaxError as e:
                return f"rule {rule_id!r}: {e}"
        else:
            self._matcher.remove(rule_id)
        self._rules[rule_id] = rule
        return None

    def match(self, article: EnrichedArticle) -> list[AlertRule]:
        """The enabled rules ``article`` fires, in the order they were first added."""
        return [self._rules[rule_id] for rule_id in self._matcher.match(article)]

    def match_within(self, article: EnrichedArticle, *, budget: float) -> BudgetedMatch:
        """Like ``match``, each rule given ``budget`` seconds on this article.

        A rule past its budget is switched off here at once (this worker stops
        evaluating it) and returned as the disabled version, with its reason, for the
        caller to write to the rules topic, so every worker, ``alerts show`` and the API
        see it off and why.  A rule already off is not returned twice.
        """
        doc = Document.of(article)
        result = self._matcher.match_within(doc, budget)
        over = result.over_budget
        fired = [self._rules[rule_id] for rule_id in result.ids if rule_id not in over]
        disabled = []
        now = datetime.now(UTC)
        for rule_id, spent in result.over_budget.items():
            rule = self._rules[rule_id]
            reason = (
                f"matching took over its budget of {budget * 1000:g} ms "
                f"({spent * 1000:.0f} ms on article {article.id!r}); "
                "simplify the rule (fewer leading wildcards), then enable it again"
            )
            off = rule.model_copy(
                update={"enabled": False, "disabled_reason": reason, "updated_at": now}
            )
            self._rules[rule_id] = off
            self._matcher.remove(rule_id)
            disabled.append(off)
            log.warning("rule %r disabled: %s", rule_id, reason)
        return BudgetedMatch(fired, disabled)


@dataclass(frozen=True, slots=True)
class BudgetedMatch:
    """What ``RuleBook.match_within`` found: rules fired, rules switched off (with why)."""

    rules: list[AlertRule]
    disabled: list[AlertRule]


def build_alert(rule: AlertRule, article: EnrichedArticle, *, matched_at: datetime) -> Alert:
    """The alert for one (rule, article) match; its id depends on rule and story only,
    so every copy of a syndicated story and every replay gives the same id."""
    return Alert(
        id=Alert.make_id(rule.id, article.story_id),
        rule_id=rule.id,
        rule_name=rule.name,
        query=rule.query,
        story_id=article.story_id,
        article_id=article.id,
        title=article.title,
        url=article.url,
        source=article.source,
        published_at=article.published_at,
        matched_at=matched_at,
        tags=list(article.tags),
    )


def alerts_for(
    rules: Iterable[AlertRule], article: EnrichedArticle, *, matched_at: datetime
) -> list[Alert]:
    return [build_alert(rule, article, matched_at=matched_at) for rule in rules]


@dataclass
class Pending:
    """One rule's delivery state: when it last sent a message and what waits for the next.

    Kept per rule id in a changelog-backed table; ``to_json``/``from_json`` are its wire
    form (plain JSON, so a recovering worker reads back exactly what was written).
    """

    last_sent: float | None = None  # Unix seconds
    due: float | None = None  # when the waiting alerts go out (set with the first one)
    alerts: list[Alert] = field(default_factory=list)

    def holds(self, alert_id: str) -> bool:
        return any(alert.id == alert_id for alert in self.alerts)

    def expired(self, *, now: float, horizon_seconds: float) -> bool:
        """Nothing waits and nothing was sent within the horizon: the state can go (a
        throttle is far shorter than any horizon, so forgetting ``last_sent`` is safe)."""
        return not self.alerts and (self.last_sent or 0.0) < now - horizon_seconds

    def without(self, alert_ids: Iterable[str]) -> list[Alert]:
        gone = set(alert_ids)
        return [alert for alert in self.alerts if alert.id not in gone]

    def to_json(self) -> str:
        return json.dumps({
            "last_sent": self.last_sent,
            "due": self.due,
            "alerts": [alert.model_dump(mode="json") for alert in self.alerts],
        })

    @classmethod
    def from_json(cls, text: str | None) -> Pending:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            last_sent=data.get("last_sent"),
            due=data.get("due"),
            alerts=[Alert.model_validate(item) for item in data.get("alerts", [])],
        )


def sends_at_once(rule: AlertRule) -> bool:
    """Instant rules without a throttle never wait, so need no per-rule state."""
    return rule.mode == "instant" and rule.throttle_seconds == 0


def due_at(rule: AlertRule, *, now: float, last_sent: float | None) -> float:
    """When a message with an alert arriving ``now`` may go out (Unix seconds).

    Instant rules wait only for ``throttle_seconds`` after the last message.  Digests go
    out at the end of the current clock period — the next full hour (hourly) or midnight
    UTC (daily) — so a restarted worker picks the same moment, and never sooner than the
    throttle allows.  The answer is stored with the first waiting alert.
    """
    earliest = now if last_sent is None else max(now, last_sent + rule.throttle_seconds)
    period = _PERIODS.get(rule.mode)
    if period is None:
        return earliest
    moment = datetime.fromtimestamp(now, UTC)
    if rule.mode == "hourly":
        start = moment.replace(minute=0, second=0, microsecond=0)
    else:
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(earliest, (start + period).timestamp())
