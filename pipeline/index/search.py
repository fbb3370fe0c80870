"""Search the article index: build the request, run it, shape the answer.

The query language is Lucene query-string syntax, or KQL (Kibana's default) with
``query_language="kql"``, the same languages alert rules and Kibana use, so a query an
analyst tries here can become an alert rule unchanged.  Bare terms search ``title``
and ``body``; ``field:value`` reaches any indexed field (``places:Iquique``,
``tags:detention``).  The text query is
``pipeline.alerts.rules.es.es_query``, the one definition alert rules are matched against, so
search and alerts cannot disagree (bare terms are combined with OR, as in Kibana).

:func:`build_request` is pure (no I/O) so the request shape is unit-tested;
:func:`run_search` sends it and turns the response into :class:`SearchResult`, whose JSON
form is what ``newsflow search --json`` prints.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import (
    ApiError,
    AuthenticationException,
    BadRequestError,
    Elasticsearch,
    NotFoundError,
)
from pydantic import BaseModel, Field

from pipeline.alerts.rules.errors import RuleSyntaxError
from pipeline.alerts.rules.es import es_query
from pipeline.core.errors import NewsflowError

DEFAULT_OPERATOR: str = es_query("x")["query_string"]["default_operator"]
HIGHLIGHT_PRE = "<em>"
HIGHLIGHT_POST = "</em>"
# Facets shown by default: the field in the index and how many buckets to ask for.
FACETS: dict[str, int] = {
    "tags": 15,
    "places": 10,
    "persons": 10,
    "orgs": 10,
    "nationalities": 10,
    "groups": 10,
    "agencies": 10,
}
_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SOURCE_FIELDS = [
    "id", "url", "title", "source", "language", "published_at", "tags", "places",
    "persons", "orgs", "story_id", "duplicate_of", "migration_related",
]  # fmt: skip


class SearchError(NewsflowError, RuntimeError):
    """A failure the user can act on; the message is one line, meant to be printed as is."""


class QueryError(SearchError):
    """Elasticsearch could not parse the query or a filter value."""


class ClusterUnavailable(SearchError):
    """Elasticsearch could not be reached, or refused our credentials."""


class SearchRequest(BaseModel):
    """What the user asked for; list filters OR within a field and AND across fields."""

    query: str = "*"
    query_language: Literal["lucene", "kql"] = Field(
        default="lucene", description="Lucene query string, or Kibana Query Language."
    )
    tags: list[str] = Field(default_factory=list)
    places: list[str] = Field(default_factory=list)
    persons: list[str] = Field(default_factory=list)
    orgs: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    size: int = Field(default=10, ge=0, le=500)
    collapse: bool = False
    sort: Literal["relevance", "newest"] = "relevance"


class FacetBucket(BaseModel):
    value: str
    count: int


class SearchHit(BaseModel):
    id: str
    score: float | None
    title: str | None = None
    url: str | None = None
    source: str | None = None
    language: str | None = None
    published_at: datetime | None = None
    tags: list[str] = Field(default_factory=list)
    places: list[str] = Field(default_factory=list)
    persons: list[str] = Field(default_factory=list)
    orgs: list[str] = Field(default_factory=list)
    story_id: str | None = None
    copies: int | None = Field(
        default=None, description="Articles in this story (only when collapsed)."
    )
    highlights: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Fragments per field; matched terms wrapped in <em>…</em>.",
    )


class SearchResult(BaseModel):
    """The stable shape of ``newsflow search --json``."""

    query: str
    total: int = Field(description="Matching articles (syndicated copies counted).")
    total_is_exact: bool = True
    stories: int | None = Field(
        default=None, description="Distinct story ids among the matches (when collapsed)."
    )
    collapsed: bool = False
    took_ms: int = 0
    hits: list[SearchHit] = Field(default_factory=list)
    facets: dict[str, list[FacetBucket]] = Field(default_factory=dict)


def parse_time(value: str, *, now: datetime | None = None) -> datetime:
    """An ISO date/datetime, or a duration back from now: ``30m``, ``24h``, ``7d``, ``2w``.

    A date without a time is midnight UTC; a naive datetime is taken as UTC.
    """
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError as e:
            raise ValueError(
                f"not a date: {value!r} (use 2025-06-01, 2025-06-01T12:00:00Z or 7d, 24h, 30m, 2w)"
            ) from e
        parsed = datetime(day.year, day.month, day.day)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _filters(request: SearchRequest) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    for field, values in (
        ("tags", request.tags),
        ("places", request.places),
        ("persons", request.persons),
        ("orgs", request.orgs),
        ("language", request.languages),
        ("source", request.sources),
    ):
        if values:
            filters.append({"terms": {field: list(values)}})
    window: dict[str, str] = {}
    if request.since is not None:
        window["gte"] = request.since.isoformat()
    if request.until is not None:
        window["lte"] = request.until.isoformat()
    if window:
        filters.append({"range": {"published_at": window}})
    return filters


def _text_query(query: str, language: Literal["lucene", "kql"]) -> dict[str, Any]:
    if not query.strip() or query.strip() == "*":
        return {"match_all": {}}
    try:
        return es_query(query, language=language)
    except RuleSyntaxError as e:  # only KQL is translated here; Lucene goes to ES as typed
        raise QueryError(f"bad KQL query: {e}") from e


def build_request(request: SearchRequest) -> dict[str, Any]:
    """The body of the ``_search`` call for ``request`` (no I/O).

    Raises:
        QueryError: a KQL query that cannot be translated.
    """
    text = _text_query(request.query, request.query_language)
    body: dict[str, Any] = {
        "query": {"bool": {"must": [text], "filter": _filters(request)}},
        "size": request.size,
        "track_total_hits": True,
        "_source": list(_SOURCE_FIELDS),
        "highlight": {
            "pre_tags": [HIGHLIGHT_PRE],
            "post_tags": [HIGHLIGHT_POST],
            "fields": {
                "title": {"number_of_fragments": 0},
                "body": {"fragment_size": 160, "number_of_fragments": 2},
            },
        },
        "aggs": {name: {"terms": {"field": name, "size": size}} for name, size in FACETS.items()},
    }
    if request.sort == "newest":
        body["sort"] = [{"published_at": "desc"}, "_score"]
    if request.collapse:
        body["collapse"] = {
            "field": "story_id",
            "inner_hits": {"name": "copies", "size": 0},
        }
        body["aggs"]["stories"] = {"cardinality": {"field": "story_id"}}
    return body


def _hit(raw: dict[str, Any]) -> SearchHit:
    source = raw.get("_source", {})
    copies = None
    inner = raw.get("inner_hits", {}).get("copies")
    if inner is not None:
        copies = int(inner["hits"]["total"]["value"])
    return SearchHit(
        id=raw["_id"],
        score=raw.get("_score"),
        title=source.get("title"),
        url=source.get("url"),
        source=source.get("source"),
        language=source.get("language"),
        published_at=source.get("published_at"),
        tags=source.get("tags", []),
        places=source.get("places", []),
        persons=source.get("persons", []),
        orgs=source.get("orgs", []),
        story_id=source.get("story_id"),
        copies=copies,
        highlights=raw.get("highlight", {}),
    )


def shape_response(request: SearchRequest, response: dict[str, Any]) -> SearchResult:
    """Turn a raw ``_search`` response for ``build_request(request)`` into a result."""
    total = response["hits"]["total"]
    aggs = response.get("aggregations", {})
    facets = {
        name: [
            FacetBucket(value=str(b.get("key_as_string", b["key"])), count=b["doc_count"])
            for b in aggs[name]["buckets"]
        ]
        for name in FACETS
        if name in aggs
    }
    stories = int(aggs["stories"]["value"]) if "stories" in aggs else None
    return SearchResult(
        query=request.query,
        total=int(total["value"]),
        total_is_exact=total.get("relation", "eq") == "eq",
        stories=stories,
        collapsed=request.collapse,
        took_ms=int(response.get("took", 0)),
        hits=[_hit(h) for h in response["hits"]["hits"]],
        facets=facets,
    )


def _reason(error: ApiError) -> str:
    """The most telling ``reason`` in an Elasticsearch error body, first line only.

    A bad query string comes back as ``search_phase_execution_exception`` / "all shards
    failed"; the useful text ("Cannot parse '...': Encountered ...") sits in the failed
    shard's ``caused_by`` chain.
    """
    body = error.body if isinstance(error.body, dict) else {}
    node: Any = body.get("error")
    reasons: list[str] = []
    while isinstance(node, dict):
        if isinstance(node.get("reason"), str):
            reasons.append(node["reason"])
        if node.get("caused_by"):
            node = node["caused_by"]
        elif node.get("failed_shards"):
            node = node["failed_shards"][0].get("reason")
        elif node.get("root_cause"):
            node = node["root_cause"][0]
        else:
            break
    parse = [r for r in reasons if r.startswith("Cannot parse")]
    reason = (parse or reasons or [str(error.message)])[-1]
    return reason.splitlines()[0].strip()


def run_search(client: Elasticsearch, index: str, request: SearchRequest) -> SearchResult:
    """Run ``request`` against ``index`` (an alias or index name).

    Raises:
        QueryError: the query or a filter value could not be parsed.
        ClusterUnavailable: the cluster is unreachable or refused the credentials.
        SearchError: the index does not exist, or another error the user can act on.
    """
    body = build_request(request)  # QueryError for KQL it cannot translate
    try:
        response = client.search(index=index, body=body)
    except BadRequestError as e:
        raise QueryError(f"bad query: {_reason(e)}") from e
    except AuthenticationException as e:
        raise ClusterUnavailable(
            "Elasticsearch refused the credentials (check NEWSFLOW_ES_USER / NEWSFLOW_ES_PASSWORD)"
        ) from e
    except NotFoundError as e:
        raise SearchError(f"index {index!r} not found: run `newsflow setup` first") from e
    except (TransportConnectionError, ConnectionTimeout) as e:
        raise ClusterUnavailable(
            f"cannot reach Elasticsearch at {_node(client)}: is the stack up? `newsflow stack up`"
        ) from e
    except ApiError as e:
        if e.status_code == 500 and "parse" in _reason(e).lower():
            raise QueryError(f"bad query: {_reason(e)}") from e
        raise SearchError(f"search failed ({e.status_code}): {_reason(e)}") from e
    return shape_response(request, dict(response.body))


def _node(client: Elasticsearch) -> str:
    try:
        node = client.transport.node_pool.all()[0]
        return f"{node.scheme}://{node.host}:{node.port}"
    except (AttributeError, IndexError):
        return "the configured URL"
