"""Alert rules: the Lucene query string of Kibana, matched in the stream as ES would.

Public surface: ``parse_rule`` (check a rule, Lucene or KQL, get its ``Query``),
``Matcher`` (many rules, one article at a time; ``match_within`` gives each rule a time
budget), ``naive_match`` (the every-rule baseline), ``es_query`` (the index-side query
with the same meaning), ``kql_to_lucene``, ``analyze`` (the standard analyzer, mimicked)
and ``RuleSyntaxError``.  The limits every rule must respect are in ``limits``.
"""

from pipeline.alerts.rules.analysis import analyze
from pipeline.alerts.rules.errors import RuleSyntaxError
from pipeline.alerts.rules.es import es_query
from pipeline.alerts.rules.kql import kql_to_lucene
from pipeline.alerts.rules.matcher import Matcher, MatchResult, naive_match
from pipeline.alerts.rules.parser import LANGUAGES, Language, is_language, parse_rule
from pipeline.alerts.rules.query import Query

__all__ = [
    "LANGUAGES",
    "Language",
    "MatchResult",
    "Matcher",
    "Query",
    "RuleSyntaxError",
    "analyze",
    "es_query",
    "is_language",
    "kql_to_lucene",
    "naive_match",
    "parse_rule",
]
