"""KQL rules: Kibana's grammar and precedence, written as the Lucene rule they mean.

The parity with Kibana's own translation is proven against Elasticsearch in
tests/integration/alerts/test_rules_parity.py; here, the translation's shape and errors.
"""

from __future__ import annotations

import pytest

from pipeline.alerts.rules import Matcher, RuleSyntaxError, es_query, kql_to_lucene, parse_rule
from tests.unit.alerts.rules.test_matcher import BORDER, SPANISH


@pytest.mark.parametrize(
    ("kql", "lucene"),
    [
        ("border", "border"),
        ("border crossing", "(border crossing)"),
        ('"border crossing"', '"border crossing"'),
        ("migra* and not refugee", "(migra* AND (NOT refugee))"),
        ("a and b or c", "((a AND b) OR c)"),
        ("a or b and c", "(a OR (b AND c))"),
        ("A AND b", "(A AND b)"),
        ("cats and", "(cats and)"),  # a trailing 'and' is a word, as in Kibana
        ("title : border", "title:border"),
        ("title:border wall", "title:(border wall)"),
        ("places:Ciudad Juárez", 'places:"Ciudad Juárez"'),
        ("persons:(Ana or \"Rodrigo Delgado\")", '((persons:"Ana" OR persons:"Rodrigo Delgado"))'),
        ("places:Col*", "places:Col*"),
        ("e-mail", "e\\-mail"),
        ("foo?", "foo\\?"),
        ("not (a or b)", "(NOT ((a OR b)))"),
        ("x\\:y", "x\\:y"),
    ],
)
def test_translation(kql: str, lucene: str) -> None:
    assert kql_to_lucene(kql) == lucene
    assert parse_rule(kql, language="kql") == parse_rule(lucene)
    assert es_query(kql, language="kql") == es_query(lucene)


@pytest.mark.parametrize(
    ("kql", "position", "words"),
    [
        ("a > 5", 2, "ranges"),
        ("title:*", 6, "'*' alone"),
        ("nope:x", 0, "unknown field"),
        ("places:{x:1}", 7, "nested"),
        ('"open', 0, "unterminated quote"),
        ("(a or b", 7, "'(' at position 0 is not closed"),
        ('(a or "b" c)', 10, "expected ')'"),
        ("cannot bar", 3, "unexpected"),
        ("title:e-ma*", 6, "one word"),
        ("(" * 30 + "a" + ")" * 30, 20, "nested too deeply"),
    ],
)
def test_errors_point_into_the_kql(kql: str, position: int, words: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(kql, language="kql")
    assert (caught.value.position, caught.value.query) == (position, kql)
    assert words in caught.value.message


def test_lower_case_operators_mean_what_kibana_means() -> None:
    # Lucene reads 'and' as a search term; in KQL it is the operator.
    assert Matcher([("r", "border and migración")], ).match(BORDER) == ["r"]
    kql = Matcher()
    kql.add("r", "border and migración", language="kql")
    assert kql.match(BORDER) == [] and kql.match(SPANISH) == []
    kql.add("r", "border or migración", language="kql")
    assert kql.match(BORDER) == ["r"] and kql.match(SPANISH) == ["r"]
