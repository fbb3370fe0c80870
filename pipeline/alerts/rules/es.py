"""The Elasticsearch query whose meaning the stream matcher reproduces.

Search (Kibana, the API) and alerts must agree: a rule that fires in the stream must find
the same articles in the index.  This is the one place that says which query that is.
"""

from __future__ import annotations

from typing import Any

from pipeline.alerts.rules.analysis import DEFAULT_FIELDS


def es_query(query: str) -> dict[str, Any]:
    """``query_string`` over title and body, OR between bare terms, as Kibana sends it.

    ``analyze_wildcard`` is on, as in Kibana; the parser refuses the patterns for which
    it would make a difference, so the rule means the same with it off.
    """
    return {
        "query_string": {
            "query": query,
            "fields": list(DEFAULT_FIELDS),
            "default_operator": "OR",
            "analyze_wildcard": True,
        }
    }
