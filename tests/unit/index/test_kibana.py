"""The Kibana NDJSON: parses, is what the builder makes, and every field and reference in it
resolves against the index templates and the other objects in the file.

These checks walk the generated JSON independently of the builder's own guards, so a
builder bug that skipped a guard would still be caught here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pipeline.core.settings import IndexSettings, Settings
from pipeline.index.kibana import (
    DATE_TYPES,
    GEO_TYPES,
    NDJSON_PATH,
    TAG_FAMILIES,
    TERMS_TYPES,
    KibanaAssetError,
    _Fields,
    build_ndjson,
    build_saved_objects,
    field_types,
)
from schemas.index import alert_template, article_template
from tests.support import TAG_IDS

_DEFAULTS = Settings().replaced(index={  # the shipped file uses the default names
    "articles": IndexSettings.model_fields["articles"].default,
    "alerts": IndexSettings.model_fields["alerts"].default,
})


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON_PATH.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def by_key(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["type"], o["id"]): o for o in objects}


@pytest.fixture(scope="module")
def view_fields() -> dict[str, dict[str, str]]:
    """Data view id → field types of the template behind its pattern."""
    return {
        "newsflow-articles": field_types(article_template(_DEFAULTS.index.articles)),
        "newsflow-alerts": field_types(alert_template(_DEFAULTS.index.alerts)),
    }


def test_committed_file_is_the_builders_output() -> None:
    assert NDJSON_PATH.read_text() == build_ndjson(_DEFAULTS), (
        "deploy/kibana/newsflow.ndjson is stale: run `newsflow kibana build`"
    )


def test_ids_are_stable_and_unique(objects: list[dict[str, Any]]) -> None:
    again = build_saved_objects(_DEFAULTS)
    assert [(o["type"], o["id"]) for o in again] == [(o["type"], o["id"]) for o in objects]
    keys = [(o["type"], o["id"]) for o in objects]
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(r"newsflow-[a-z0-9-]+", o["id"]) for o in objects)


def test_expected_objects_present(by_key: dict[tuple[str, str], dict[str, Any]]) -> None:
    types = {t for t, _ in by_key}
    assert types == {"index-pattern", "search", "lens", "map", "dashboard"}
    articles = by_key[("index-pattern", "newsflow-articles")]["attributes"]
    alerts = by_key[("index-pattern", "newsflow-alerts")]["attributes"]
    assert (articles["title"], articles["timeFieldName"]) == ("news-articles-*", "published_at")
    assert (alerts["title"], alerts["timeFieldName"]) == ("news-alerts-*", "matched_at")
    queries = {
        json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
        for (t, _), o in by_key.items()
        if t == "search"
    }
    assert {"migration_related:true", "language:es"} <= queries
    assert sum(q.startswith("tags:(") for q in queries) == len(TAG_FAMILIES)


def test_every_reference_resolves(objects: list[dict[str, Any]], by_key) -> None:
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in by_key, f"{obj['id']} → {ref}"


def test_dashboard_panels_match_references(by_key) -> None:
    dashboard = by_key[("dashboard", "newsflow-overview")]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dashboard["references"]}
    assert len(panels) == len(refs) >= 8
    for panel in panels:
        ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert ref["type"] == panel["type"]
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"] and grid["x"] + grid["w"] <= 48
    shown = {(r["type"], r["id"]) for r in refs.values()}
    assert ("map", "newsflow-map-places") in shown
    assert ("lens", "newsflow-lens-alerts-over-time") in shown
    assert ("search", "newsflow-search-latest") in shown


def _lens_uses(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(data view id, field, operation) for every column of a Lens object."""
    views = {
        r["name"].removeprefix("indexpattern-datasource-layer-"): r["id"]
        for r in obj["references"]
        if r["name"].startswith("indexpattern-datasource-layer-")
    }
    uses = []
    for layer_id, layer in obj["attributes"]["state"]["datasourceStates"]["formBased"][
        "layers"
    ].items():
        assert layer_id in views, f"{obj['id']}: layer {layer_id} has no data view reference"
        assert set(layer["columnOrder"]) == set(layer["columns"])
        for column in layer["columns"].values():
            if column["sourceField"] != "___records___":
                uses.append((views[layer_id], column["sourceField"], column["operationType"]))
    return uses


def test_lens_fields_exist_with_usable_types(objects, view_fields) -> None:
    needs = {"terms": TERMS_TYPES, "date_histogram": DATE_TYPES}
    seen = set()
    for obj in (o for o in objects if o["type"] == "lens"):
        for view, field, operation in _lens_uses(obj):
            kind = view_fields[view].get(field)
            assert kind in needs[operation], f"{obj['id']}: {field} is {kind} for {operation}"
            seen.add(field)
        layer = obj["attributes"]["state"]["visualization"]["layers"][0]
        columns = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
        ids = set(next(iter(columns.values()))["columns"])
        accessors = {layer["xAccessor"], *layer["accessors"], layer.get("splitAccessor")} - {None}
        assert accessors <= ids
    assert {"persons", "places", "orgs", "nationalities", "tags", "published_at",
            "matched_at", "rule_name"} <= seen  # fmt: skip


def test_map_layer_uses_a_geo_point(by_key, view_fields) -> None:
    obj = by_key[("map", "newsflow-map-places")]
    refs = {r["name"]: r["id"] for r in obj["references"]}
    sources = [
        layer["sourceDescriptor"] for layer in json.loads(obj["attributes"]["layerListJSON"])
    ]
    es_sources = [s for s in sources if "indexPatternRefName" in s]
    assert es_sources
    for source in es_sources:
        view = refs[source["indexPatternRefName"]]
        assert view_fields[view][source["geoField"]] in GEO_TYPES


def test_search_columns_sort_and_query_fields_exist(objects, view_fields) -> None:
    fields = view_fields["newsflow-articles"]
    for obj in (o for o in objects if o["type"] == "search"):
        attributes = obj["attributes"]
        for column in attributes["columns"]:
            assert column in fields, f"{obj['id']}: column {column}"
        for field, _ in attributes["sort"]:
            assert fields[field] in DATE_TYPES
        query = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]
        for field in re.findall(r"([A-Za-z_][\w.]*):", query["query"]):
            assert field in fields, f"{obj['id']}: query field {field}"


def test_data_view_time_fields_are_dates(by_key, view_fields) -> None:
    for view, fields in view_fields.items():
        time_field = by_key[("index-pattern", view)]["attributes"]["timeFieldName"]
        assert fields[time_field] in DATE_TYPES


def test_tag_families_cover_the_taxonomy() -> None:
    grouped = [tag for _, tags in TAG_FAMILIES.values() for tag in tags]
    assert len(grouped) == len(set(grouped)) == len(TAG_IDS)
    assert set(grouped) == TAG_IDS


def test_builder_refuses_a_missing_or_mistyped_field() -> None:
    fields = _Fields("newsflow-articles", article_template("news-articles"))
    with pytest.raises(KibanaAssetError, match="not in"):
        fields.need("no_such_field", TERMS_TYPES, "test")
    with pytest.raises(KibanaAssetError, match="is text"):
        fields.need("body", TERMS_TYPES, "test")
    assert fields.need("geo.location", GEO_TYPES, "test") == "geo.location"
