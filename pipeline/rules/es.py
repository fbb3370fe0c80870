"""The Elasticsearch query whose meaning the stream matcher reproduces.

Search (Kibana, the API) and alerts must agree: a rule that fires in the stream must find
the same articles in the index.  This is the one place that says which query that is.
"""

from __future__ import annotations

from typing import Any

from pipeline.rules.analysis import DEFAULT_FIELDS


def es_query(query: str) -> dict[str, Any]:
    """``query_string`` over title and body with OR between bare terms, ES's defaults."""
    return {
        "query_string": {
            "query": query,
            "fields": list(DEFAULT_FIELDS),
            "default_operator": "OR",
        }
    }
