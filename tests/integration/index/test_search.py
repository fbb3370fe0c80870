"""``newsflow search`` against the real local Elasticsearch.

A throwaway index is created from the real article template (unique name + alias), filled
with invented articles (two syndicated copies share a story id), searched through
``run_search`` and through the CLI, and deleted at the end.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch
from pydantic import SecretStr
from typer.testing import CliRunner

from agents.cli import app
from pipeline.core import settings as config_module
from pipeline.core.es_client import es_client
from pipeline.core.settings import Settings
from pipeline.index.search import (
    HIGHLIGHT_POST,
    HIGHLIGHT_PRE,
    ClusterUnavailable,
    QueryError,
    SearchRequest,
    SearchResult,
    parse_time,
    run_search,
)
from schemas.articles import EnrichedArticle
from schemas.index import article_template

pytestmark = pytest.mark.stack

NOW = datetime.now(UTC).replace(microsecond=0)
QUERY = "migra* AND places:Iquique"


def _article(
    id_: str, *, title: str, body: str, story: str, days_ago: float, **fields: object
) -> EnrichedArticle:
    return EnrichedArticle(
        id=id_,
        title=title,
        body=body,
        story_id=story,
        published_at=NOW - timedelta(days=days_ago),
        ingested_at=NOW,
        **fields,  # type: ignore[arg-type]
    )


ARTICLES = [
    _article(
        "a1",
        title="Families rest in Iquique after a cold crossing at Colchane",
        body="Dozens of migrants reached Iquique on foot this week. Volunteers handed out "
        "blankets near the old pier while Ana Rojas of a local shelter counted arrivals.",
        story="story-iquique",
        days_ago=2,
        source="Andes Wire",
        language="en",
        places=["Iquique", "Colchane"],
        persons=["Ana Rojas"],
        orgs=["UNHCR"],
        nationalities=["Venezuelan"],
        agencies=["Associated Press"],
        tags=["border_crossing", "humanitarian_conditions_camps"],
        migration_related=True,
    ),
    _article(
        "a2",
        title="Families rest in Iquique after a cold crossing at Colchane",
        body="Dozens of migrants reached Iquique on foot this week. Volunteers handed out "
        "blankets near the old pier while Ana Rojas of a local shelter counted arrivals.",
        story="story-iquique",
        days_ago=1.9,
        source="Pacific Daily",
        language="en",
        places=["Iquique", "Colchane"],
        persons=["Ana Rojas"],
        orgs=["UNHCR"],
        nationalities=["Venezuelan"],
        agencies=["Associated Press"],
        tags=["border_crossing", "humanitarian_conditions_camps"],
        migration_related=True,
        duplicate_of="a1",
    ),
    _article(
        "a3",
        title="Nuevo albergue en Iquique",
        body="La migración hacia el norte de Chile no se detiene: el municipio de Iquique "
        "abrió un albergue con cuarenta camas para familias recién llegadas.",
        story="story-albergue",
        days_ago=10,
        source="Diario Norte",
        language="es",
        places=["Iquique"],
        orgs=["Municipalidad de Iquique"],
        agencies=["EFE"],
        tags=["humanitarian_conditions_camps"],
        migration_related=True,
    ),
    _article(
        "a4",
        title="Ministers discuss migration quotas in Lima",
        body="Officials from five countries met in Lima to talk about migration quotas and "
        "shared registration of new arrivals.",
        story="story-lima",
        days_ago=3,
        source="Andes Wire",
        language="en",
        places=["Lima"],
        tags=["migration_diplomacy_cooperation"],
        migration_related=True,
    ),
    _article(
        "a5",
        title="Dock workers strike in Iquique",
        body="Port operations in Iquique stopped for a day as dock workers asked for higher "
        "pay and safer cranes.",
        story="story-strike",
        days_ago=1,
        source="Pacific Daily",
        language="en",
        places=["Iquique"],
    ),
]


@pytest.fixture(scope="module")
def index(stack: object, settings: Settings) -> Iterator[tuple[Elasticsearch, str]]:
    alias = f"test-search-{uuid.uuid4().hex[:10]}"
    client = es_client(settings)
    template = article_template(alias)["template"]
    concrete = f"{alias}-000001"
    client.indices.create(
        index=concrete,
        settings=template["settings"],
        mappings=template["mappings"],
        aliases={alias: {"is_write_index": True}},
    )
    try:
        for article in ARTICLES:
            client.index(index=alias, id=article.id, document=article.model_dump(mode="json"))
        client.indices.refresh(index=alias)
        yield client, alias
    finally:
        client.indices.delete(index=concrete, ignore_unavailable=True)
        client.close()


def _search(index: tuple[Elasticsearch, str], **kwargs: object) -> SearchResult:
    client, alias = index
    return run_search(client, alias, SearchRequest(**kwargs))  # type: ignore[arg-type]


def test_query_finds_every_copy_with_highlights(index) -> None:
    result = _search(index, query=QUERY)
    assert {h.id for h in result.hits} == {"a1", "a2", "a3"}
    assert result.total == 3 and not result.collapsed
    for hit in result.hits:
        fragments = " ".join(hit.highlights.get("body", []))
        assert HIGHLIGHT_PRE in fragments and HIGHLIGHT_POST in fragments
        marked = fragments.split(HIGHLIGHT_PRE, 1)[1].split(HIGHLIGHT_POST, 1)[0]
        assert marked.lower().startswith("migra")
    facets = {name: {b.value: b.count for b in buckets} for name, buckets in result.facets.items()}
    assert facets["places"] == {"Iquique": 3, "Colchane": 2}
    assert facets["tags"] == {"humanitarian_conditions_camps": 3, "border_crossing": 2}
    assert facets["persons"] == {"Ana Rojas": 2}
    assert facets["nationalities"] == {"Venezuelan": 2}
    assert facets["agencies"] == {"Associated Press": 2, "EFE": 1}
    assert {h.id for h in _search(index, query="agencies:EFE").hits} == {"a3"}


def test_collapse_hides_syndicated_copies(index) -> None:
    result = _search(index, query=QUERY, collapse=True)
    assert result.collapsed and result.total == 3 and result.stories == 2
    stories = {h.story_id: h for h in result.hits}
    assert set(stories) == {"story-iquique", "story-albergue"}
    assert stories["story-iquique"].copies == 2
    assert stories["story-albergue"].copies == 1


def test_filters(index) -> None:
    assert {h.id for h in _search(index, query=QUERY, languages=["es"]).hits} == {"a3"}
    assert {h.id for h in _search(index, query=QUERY, tags=["border_crossing"]).hits} == {
        "a1",
        "a2",
    }
    recent = _search(index, query=QUERY, since=parse_time("5d"))
    assert {h.id for h in recent.hits} == {"a1", "a2"}
    older = _search(index, query=QUERY, until=parse_time("5d"))
    assert {h.id for h in older.hits} == {"a3"}
    assert {h.id for h in _search(index, query="migra*", places=["Lima"]).hits} == {"a4"}
    assert {h.id for h in _search(index, sources=["Pacific Daily"]).hits} == {"a2", "a5"}
    assert {h.id for h in _search(index, persons=["Ana Rojas"], orgs=["UNHCR"]).hits} == {
        "a1",
        "a2",
    }
    # Bare terms are combined with OR, as in Kibana and alert rules.
    assert {h.id for h in _search(index, query="albergue cranes").hits} == {"a3", "a5"}
    assert {h.id for h in _search(index, query="albergue AND cranes").hits} == set()


def test_newest_first(index) -> None:
    result = _search(index, sort="newest")
    times = [h.published_at for h in result.hits]
    assert times == sorted(times, reverse=True) and len(times) == len(ARTICLES)


def test_bad_query_is_a_query_error(index) -> None:
    with pytest.raises(QueryError, match="(?i)parse"):
        _search(index, query="migra* AND (")


def test_unreachable_cluster(settings: Settings) -> None:
    dead = Settings().replaced(es={"url": "http://127.0.0.1:1", "password": SecretStr("x")})
    client = es_client(dead, max_retries=0, request_timeout=2)
    with pytest.raises(ClusterUnavailable, match="newsflow stack up"):
        run_search(client, "news-articles", SearchRequest(query="x"))


@pytest.fixture()
def cli(index, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    _, alias = index
    monkeypatch.setenv("NEWSFLOW_INDEX_ARTICLES", alias)
    config_module.get_settings.cache_clear()
    yield CliRunner()
    config_module.get_settings.cache_clear()


def test_cli_json_and_text(cli: CliRunner) -> None:
    result = cli.invoke(app, ["search", QUERY, "--collapse", "--json"])
    assert result.exit_code == 0, result.output
    parsed = SearchResult.model_validate(json.loads(result.stdout))
    assert parsed.stories == 2 and {h.story_id for h in parsed.hits} == {
        "story-iquique",
        "story-albergue",
    }
    text = cli.invoke(app, ["search", QUERY, "--lang", "es"])
    assert text.exit_code == 0, text.output
    assert "Nuevo albergue en Iquique" in text.stdout and "facets" in text.stdout
    assert "agencies: EFE" in text.stdout


def test_cli_kql_query_language(cli: CliRunner) -> None:
    # In KQL lower-case 'and'/'not' are operators; in Lucene they would be search terms.
    kql = cli.invoke(app, ["search", "migra* and not places:Lima", "--language", "kql", "--json"])
    assert kql.exit_code == 0, kql.output
    assert {h.id for h in SearchResult.model_validate(json.loads(kql.stdout)).hits} == {
        "a1", "a2", "a3"}
    lucene = cli.invoke(app, ["search", "migra* and not places:Lima", "--json"])
    assert lucene.exit_code == 0, lucene.output
    assert "a4" in {h.id for h in SearchResult.model_validate(json.loads(lucene.stdout)).hits}


def test_cli_errors_exit_2(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = cli.invoke(app, ["search", "migra* AND ("])
    assert bad.exit_code == 2
    assert "bad query" in bad.output
    bad_kql = cli.invoke(app, ["search", "migra* and (", "--language", "kql"])
    assert bad_kql.exit_code == 2
    assert "bad KQL query: position" in bad_kql.output
    wrong = cli.invoke(app, ["search", "migra*", "--language", "es"])
    assert wrong.exit_code == 2 and "--lang es" in wrong.output
    monkeypatch.setenv("NEWSFLOW_ES_URL", "http://127.0.0.1:1")
    config_module.get_settings.cache_clear()
    down = cli.invoke(app, ["search", "x"])
    assert down.exit_code == 2
    assert "is the stack up?" in down.output and len(down.output.strip().splitlines()) == 1
