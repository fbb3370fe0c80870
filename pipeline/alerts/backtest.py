"""Run a rule against the article index: what it would have matched in the last days.

An analyst tunes a rule before saving it, and wants the answer in alert terms: how many
articles, how many stories (an alert fires once per rule and story), and the latest
ones.  The query is the search's, which is ``pipeline.alerts.rules.es.es_query``, the one the
stream matcher is parity-tested against, so the backtest predicts what the stream fires.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from elasticsearch import Elasticsearch
from pydantic import AwareDatetime, BaseModel, Field

from pipeline.alerts.rules import Language, parse_rule
from pipeline.index.search import SearchRequest, run_search

MAX_MATCHES = 500


class BacktestMatch(BaseModel):
    id: str
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published_at: datetime | None = None
    story_id: str | None = None
    copies: int | None = Field(default=None, description="Matching articles in this story.")


class BacktestResult(BaseModel):
    """The stable shape of ``newsflow alerts test --json`` and ``POST /rules/test``."""

    query: str
    language: Language = "lucene"
    since: AwareDatetime
    until: AwareDatetime
    articles: int = Field(description="Matching articles in the window, copies included.")
    articles_is_exact: bool = True
    stories: int = Field(description="Distinct stories among them: the alerts it would fire.")
    matches: list[BacktestMatch] = Field(
        default_factory=list, description="Newest first, one per story."
    )


def backtest(
    es: Elasticsearch,
    index: str,
    query: str,
    *,
    language: Language = "lucene",
    days: float = 7.0,
    size: int = 10,
    now: datetime | None = None,
) -> BacktestResult:
    """Match ``query`` against articles published in the ``days`` before ``now``.

    Args:
        es: the cluster.
        index: the article index or alias (``settings.index.articles``).
        query: a rule's query, in ``language`` (Lucene query string or KQL).
        days: the window's length, back from ``now``.
        size: how many of the newest matching stories to return (at most 500).
        now: the window's end; the current time by default.

    Raises:
        RuleSyntaxError: the query is not a valid rule (checked before any I/O).
        SearchError: the cluster refused the query or could not be reached.
    """
    if days <= 0:
        raise ValueError("days must be positive")
    parse_rule(query, language=language)
    until = now or datetime.now(UTC)
    since = until - timedelta(days=days)
    request = SearchRequest(
        query=query,
        query_language=language,
        since=since,
        until=until,
        size=min(max(size, 0), MAX_MATCHES),
        collapse=True,
        sort="newest",
    )
    result = run_search(es, index, request)
    return BacktestResult(
        query=query,
        language=language,
        since=since,
        until=until,
        articles=result.total,
        articles_is_exact=result.total_is_exact,
        stories=result.stories or 0,
        matches=[
            BacktestMatch(
                id=hit.id,
                title=hit.title,
                source=hit.source,
                url=hit.url,
                published_at=hit.published_at,
                story_id=hit.story_id,
                copies=hit.copies,
            )
            for hit in result.hits
        ],
    )
