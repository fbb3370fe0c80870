"""Alert rules: the Lucene query string of Kibana, matched in the stream as ES would.

Public surface: ``parse_rule`` (check a rule, get its ``Query``), ``Matcher`` (many rules,
one article at a time), ``naive_match`` (the every-rule baseline), ``es_query`` (the
index-side query with the same meaning), ``analyze`` (the standard analyzer, mimicked)
and ``RuleSyntaxError``.
"""

from pipeline.alerts.rules.analysis import analyze
from pipeline.alerts.rules.errors import RuleSyntaxError
from pipeline.alerts.rules.es import es_query
from pipeline.alerts.rules.matcher import Matcher, naive_match
from pipeline.alerts.rules.parser import parse_rule
from pipeline.alerts.rules.query import Query

__all__ = [
    "Matcher",
    "Query",
    "RuleSyntaxError",
    "analyze",
    "es_query",
    "naive_match",
    "parse_rule",
]
