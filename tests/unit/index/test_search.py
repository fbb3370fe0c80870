"""The search request body and time parsing (pure functions, no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.alerts.rules.es import es_query
from pipeline.index.search import (
    DEFAULT_OPERATOR,
    FACETS,
    SearchRequest,
    SearchResult,
    build_request,
    parse_time,
    shape_response,
)

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


def test_relative_and_iso_times() -> None:
    assert parse_time("7d", now=NOW) == NOW - timedelta(days=7)
    assert parse_time("24h", now=NOW) == NOW - timedelta(hours=24)
    assert parse_time("30m", now=NOW) == NOW - timedelta(minutes=30)
    assert parse_time("2w", now=NOW) == NOW - timedelta(weeks=2)
    assert parse_time("2025-06-01") == datetime(2025, 6, 1, tzinfo=UTC)
    assert parse_time("2025-06-01T08:30:00+02:00").utcoffset() == timedelta(hours=2)
    with pytest.raises(ValueError, match="not a date"):
        parse_time("last tuesday")


def test_query_string_over_title_and_body() -> None:
    body = build_request(SearchRequest(query="migra* AND places:Iquique"))
    must = body["query"]["bool"]["must"][0]["query_string"]
    assert must["query"] == "migra* AND places:Iquique"
    assert must["fields"] == ["title", "body"]
    # The same query alert rules are matched against (pipeline.alerts.rules.es).
    assert must == es_query("migra* AND places:Iquique")["query_string"]
    assert must["default_operator"] == DEFAULT_OPERATOR == "OR"
    assert body["query"]["bool"]["filter"] == []
    assert "collapse" not in body and "sort" not in body
    assert set(body["aggs"]) == set(FACETS)
    assert set(body["highlight"]["fields"]) == {"title", "body"}


def test_empty_query_matches_all() -> None:
    for query in ("", "*", "  "):
        assert build_request(SearchRequest(query=query))["query"]["bool"]["must"] == [
            {"match_all": {}}
        ]


def test_filters_and_options() -> None:
    since, until = NOW - timedelta(days=7), NOW
    body = build_request(
        SearchRequest(
            query="x", tags=["detention"], places=["Iquique", "Arica"], persons=["Ana"],
            orgs=["IOM"], languages=["es"], sources=["Diario"], since=since, until=until,
            size=3, collapse=True, sort="newest",
        )
    )  # fmt: skip
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"tags": ["detention"]}} in filters
    assert {"terms": {"places": ["Iquique", "Arica"]}} in filters
    assert {"terms": {"persons": ["Ana"]}} in filters
    assert {"terms": {"orgs": ["IOM"]}} in filters
    assert {"terms": {"language": ["es"]}} in filters
    assert {"terms": {"source": ["Diario"]}} in filters
    assert {"range": {"published_at": {"gte": since.isoformat(), "lte": until.isoformat()}}} in (
        filters
    )
    assert body["size"] == 3
    assert body["collapse"]["field"] == "story_id"
    assert body["aggs"]["stories"] == {"cardinality": {"field": "story_id"}}
    assert body["sort"][0] == {"published_at": "desc"}


def test_shape_response_is_the_json_model() -> None:
    request = SearchRequest(query="x", collapse=True)
    raw = {
        "took": 5,
        "hits": {
            "total": {"value": 3, "relation": "eq"},
            "hits": [
                {
                    "_id": "a1",
                    "_score": 1.5,
                    "_source": {"title": "T", "story_id": "s1", "tags": ["detention"]},
                    "highlight": {"body": ["a <em>x</em> b"]},
                    "inner_hits": {"copies": {"hits": {"total": {"value": 2}, "hits": []}}},
                }
            ],
        },
        "aggregations": {
            "tags": {"buckets": [{"key": "detention", "doc_count": 3}]},
            "places": {"buckets": []},
            "stories": {"value": 2},
        },
    }
    result = shape_response(request, raw)
    assert result.total == 3 and result.stories == 2 and result.took_ms == 5
    assert result.hits[0].copies == 2 and result.hits[0].highlights["body"] == ["a <em>x</em> b"]
    assert result.facets["tags"][0].value == "detention" and result.facets["places"] == []
    assert SearchResult.model_validate_json(result.model_dump_json()) == result
