"""No rule may hold the stream: each gets a time budget per article, and loses it for good.

Matching runs on the worker's event loop; a worker that stops there sends no heartbeats,
Kafka moves its partitions to the next worker, which stops on the same article, and one
rule has taken down ingestion, indexing and every other alert.  Matching is bounded by
construction (``pipeline.alerts.rules.limits``), and on top of that every rule has
``NEWSFLOW_ALERT_RULE_BUDGET_MS`` of CPU time per article: past it twice in a row (a
second run from scratch rules out a pause that was not the rule's doing), the rule is
stopped, does not fire, and is switched off with the reason recorded on the rule,
where ``newsflow alerts show`` and the API show it (``alerts enable`` clears it).  The
switch-off is written to the rules topic, so every worker drops the rule; it lands on the
rule's current version and only if that is still the measured query and still on
(``RuleStore.save_disabled``), so a second worker, or a rule edited meanwhile, is left
as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pipeline.alerts.rulebook import BudgetedMatch, RuleBook
from pipeline.alerts.store import RuleStore
from pipeline.core.errors import NewsflowError
from pipeline.operations.metrics import RULES_DISABLED
from schemas import AlertRule, EnrichedArticle

log = logging.getLogger("newsflow.alerts")


def match_with_budget(
    book: RuleBook, article: EnrichedArticle, *, budget_ms: float
) -> BudgetedMatch:
    """The rules ``article`` fires, each within ``budget_ms``; rules past it come back off."""
    result = book.match_within(article, budget=budget_ms / 1000)
    if result.disabled:
        RULES_DISABLED.labels(reason="budget").inc(len(result.disabled))
    return result


def save_disabled(store: RuleStore, rules: Iterable[AlertRule]) -> list[str]:
    """Record rules switched off on the rules topic; returns the ids whose write failed.

    Blocking I/O: run it off the event loop.  A failure is logged; the rule stays off
    in this worker, and the next worker to meet the article switches it off too.
    """
    failed = []
    for rule in rules:
        try:
            store.save_disabled(rule)
        except NewsflowError as e:
            log.error("rule %r: could not record that it was switched off: %s", rule.id, e)
            failed.append(rule.id)
    return failed
