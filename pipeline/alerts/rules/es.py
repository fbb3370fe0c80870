"""The Elasticsearch query whose meaning the stream matcher reproduces.

Search (Kibana, the API) and alerts must agree: a rule that fires in the stream must find
the same articles in the index.  This is the one place that says which query that is.
Kibana's search bar sends ``query_string`` *without* ``fields``; the article index
template sets ``index.query.default_field`` to the same ``DEFAULT_FIELDS`` (see
``schemas.index``), so a query typed there searches exactly what the matcher reads.
"""

from __future__ import annotations

from typing import Any

from pipeline.alerts.rules.analysis import DEFAULT_FIELDS
from pipeline.alerts.rules.parser import Language


def es_query(query: str, *, language: Language = "lucene") -> dict[str, Any]:
    """``query_string`` over title and body, OR between bare terms, as Kibana sends it.

    ``analyze_wildcard`` is on, as in Kibana; the parser refuses the patterns for which
    it would make a difference, so the rule means the same with it off.  A KQL rule is
    first written as the Lucene query with its meaning (``kql_to_lucene``), which
    raises ``RuleSyntaxError`` for KQL an alert cannot run.
    """
    if language == "kql":
        from pipeline.alerts.rules.kql import kql_to_lucene

        query = kql_to_lucene(query)
    return {
        "query_string": {
            "query": query,
            "fields": list(DEFAULT_FIELDS),
            "default_operator": "OR",
            "analyze_wildcard": True,
        }
    }
