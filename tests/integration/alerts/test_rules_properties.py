"""Property tests on the real node: for generated rules, the matcher finds exactly what
Elasticsearch finds (``es_query``, and Kibana's bar without ``fields``), within budget.

Rules are drawn from ``tests.rule_grammar`` over the parity corpus's own words (so they
match something): random case, phrases with and without slop (repeated terms included),
wildcards (including the adversarial ``*?*?…`` and ``*a*a*…q`` shapes), fields, keyword
values and nested AND/OR/NOT/+/-.  KQL rules are drawn the same way and checked against
Kibana's own translation, run by node through a long-lived harness process.  The seed is
fixed (``derandomize``) and the example count bounded, so CI runs the same cases.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from hypothesis import HealthCheck, assume, event, given, settings

from pipeline.alerts.rules import Matcher, RuleSyntaxError, analyze, es_query
from pipeline.alerts.rules.document import Document
from pipeline.core.settings import Settings
from tests.integration.alerts.test_rules_parity import (
    ARTICLES,
    HARNESS,
    _ids,
    kibana_lucene,
)
from tests.integration.alerts.test_rules_parity import (
    index as index,  # noqa: F401 - the throwaway index fixture, shared
)
from tests.rule_grammar import Vocabulary, kql_rules, lucene_rules

pytestmark = pytest.mark.stack

_VOCAB = Vocabulary(
    words=sorted({t for a in ARTICLES for text in (a.title or "", a.body) for t in analyze(text)
                  if t.isalpha() and len(t) > 2}),
    pairs=sorted({(a, b) for art in ARTICLES for ts in [analyze(art.body)]
                  for a, b in zip(ts, ts[1:], strict=False) if a.isalpha() and b.isalpha()}),
    keywords=sorted({(f, v) for a in ARTICLES for f in ("places", "tags", "persons", "orgs")
                     for v in getattr(a, f)}),
)
_BUDGET_S = Settings().alerts.rule_budget_ms / 1000
_EXAMPLES = 150
_DOCS = [(a.id, Document.of(a)) for a in ARTICLES]


def _stream_ids(rule: str, language: str) -> set[str]:
    matcher = Matcher()
    try:
        matcher.add("r", rule, language=language)  # type: ignore[arg-type]
    except RuleSyntaxError:
        assume(False)  # refused rules are covered by the unit tests
    found: set[str] = set()
    for article_id, doc in _DOCS:
        doc.memo.clear()
        result = matcher.match_within(doc, _BUDGET_S)
        assert not result.over_budget, f"{rule!r} ran past its budget on {article_id}"
        found.update(article_id for _ in result.ids)
    # Shown by --hypothesis-show-statistics: the rules must not all be vacuous.
    event("matches " + ("none" if not found else "all" if len(found) == len(_DOCS) else "some"))
    return found


_SETTINGS = settings(
    max_examples=_EXAMPLES, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@_SETTINGS
@given(rule=lucene_rules(_VOCAB))
def test_generated_lucene_rules_agree_three_ways(
    index: tuple[Elasticsearch, str], rule: str
) -> None:
    es, name = index
    ours = _stream_ids(rule, "lucene")
    assert ours == _ids(es, name, es_query(rule)), rule
    assert ours == _ids(es, name, kibana_lucene(rule)), rule


@pytest.fixture(scope="module")
def kibana() -> Iterator[subprocess.Popen[str]]:
    node = shutil.which("node")
    if node is None or not (HARNESS / "node_modules").is_dir():
        pytest.fail("the KQL parity harness is not installed: run `make node-deps`",
                    pytrace=False)
    proc = subprocess.Popen([node, str(HARNESS / "kql_to_dsl.js")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, bufsize=1)
    yield proc
    proc.stdin.close()  # type: ignore[union-attr]
    proc.wait(timeout=30)


def _kibana_dsl(proc: subprocess.Popen[str], rule: str) -> dict[str, Any]:
    proc.stdin.write(json.dumps(rule) + "\n")  # type: ignore[union-attr]
    proc.stdin.flush()  # type: ignore[union-attr]
    answer = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
    assert "dsl" in answer, f"Kibana could not parse {rule!r}: {answer}"
    return answer["dsl"]  # type: ignore[no-any-return]


@_SETTINGS
@given(rule=kql_rules(_VOCAB))
def test_generated_kql_rules_agree_with_kibanas_translation(
    index: tuple[Elasticsearch, str], kibana: subprocess.Popen[str], rule: str
) -> None:
    es, name = index
    ours = _stream_ids(rule, "kql")
    assert ours == _ids(es, name, _kibana_dsl(kibana, rule)), rule
    assert ours == _ids(es, name, es_query(rule, language="kql")), rule
