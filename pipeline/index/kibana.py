"""Kibana saved objects (data views, saved searches, Lens charts, a map, a dashboard).

Why a builder instead of a hand-exported file: every field a chart uses is looked up in the
index templates of ``schemas.index`` and must have the type the chart needs (keyword for
"top values", date for histograms, geo_point for the map), so renaming a model field
breaks the build here rather than a dashboard in production.  Ids are fixed strings, so a
re-import overwrites instead of duplicating.  The committed file
``deploy/kibana/newsflow.ndjson`` is this module's output for the default settings.

The object formats follow what Kibana's own sample data ships (``coreMigrationVersion``
8.8.0 and per-type ``typeMigrationVersion``), which Kibana 8.x and 9.x migrate on import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.core.errors import NewsflowError
from pipeline.core.settings import Settings
from schemas.index import alert_template, article_template

NDJSON_PATH = Path(__file__).resolve().parents[2] / "deploy" / "kibana" / "newsflow.ndjson"

DV_ARTICLES = "newsflow-articles"
DV_ALERTS = "newsflow-alerts"
DASHBOARD_ID = "newsflow-overview"
ARTICLE_TIME_FIELD = "published_at"
ALERT_TIME_FIELD = "matched_at"

# The 15 taxonomy tags grouped for saved searches; a unit test checks this covers the
# taxonomy exactly.
TAG_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "movement": (
        "Movement, borders & danger in transit",
        ("border_crossing", "smuggling_trafficking", "migrant_deaths_missing"),
    ),
    "protection": (
        "Protection, displacement & humanitarian conditions",
        ("asylum_refugees", "humanitarian_conditions_camps", "internal_displacement",
         "climate_migration"),
    ),
    "enforcement": (
        "Enforcement, detention & removal",
        ("deportation_expulsion", "detention", "return_reintegration"),
    ),
    "policy": (
        "Policy, diplomacy, work & society",
        ("migration_policy_law", "migration_diplomacy_cooperation",
         "labour_migration_remittances", "integration_citizenship",
         "anti_immigrant_protest_xenophobia"),
    ),
}  # fmt: skip

# Which mapping types each use accepts (Kibana's own rules for these aggregations).
TERMS_TYPES = frozenset({"keyword", "boolean", "long", "integer", "ip"})
DATE_TYPES = frozenset({"date", "date_nanos"})
GEO_TYPES = frozenset({"geo_point"})

_CORE_MIGRATION = "8.8.0"
_TYPE_MIGRATION = {
    "index-pattern": "7.11.0",
    "search": "7.9.3",
    "lens": "8.6.0",
    "map": "8.4.0",
    "dashboard": "8.7.0",
}
_PANEL_VERSION = "8.11.0"
_COUNT = "___records___"


class KibanaAssetError(NewsflowError, ValueError):
    """A saved object refers to a field the index template lacks or types differently."""


def field_types(template: dict[str, Any]) -> dict[str, str]:
    """Dotted field path → mapping type, for every leaf of an index template."""
    out: dict[str, str] = {}

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            path = f"{prefix}{name}"
            if "properties" in spec:
                walk(spec["properties"], f"{path}.")
            elif spec.get("enabled", True) is not False:
                out[path] = spec.get("type", "object")

    walk(template["template"]["mappings"]["properties"], "")
    return out


class _Fields:
    """The fields of one data view, checked at every use."""

    def __init__(self, data_view: str, template: dict[str, Any]) -> None:
        self.data_view = data_view
        self.types = field_types(template)

    def need(self, name: str, allowed: frozenset[str], use: str) -> str:
        kind = self.types.get(name)
        if kind is None:
            raise KibanaAssetError(f"{use}: field {name!r} is not in the {self.data_view} index")
        if kind not in allowed:
            raise KibanaAssetError(
                f"{use}: field {name!r} is {kind}, needs one of {sorted(allowed)}"
            )
        return name


def _obj(type_: str, id_: str, attributes: dict[str, Any], references: list[dict[str, str]]):
    return {
        "type": type_,
        "id": id_,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": _CORE_MIGRATION,
        "typeMigrationVersion": _TYPE_MIGRATION[type_],
        "managed": False,
    }


def _ref(name: str, type_: str, id_: str) -> dict[str, str]:
    return {"name": name, "type": type_, "id": id_}


def _data_view(id_: str, pattern: str, name: str, time_field: str, fields: _Fields):
    fields.need(time_field, DATE_TYPES, f"data view {id_} time field")
    attributes = {
        "title": pattern,
        "name": name,
        "timeFieldName": time_field,
        "fields": "[]",
        "fieldFormatMap": "{}",
        "runtimeFieldMap": "{}",
        "typeMeta": "{}",
    }
    return _obj("index-pattern", id_, attributes, [])


def _saved_search(id_: str, title: str, query: str, fields: _Fields, *, columns: list[str]):
    for column in columns:
        fields.need(column, frozenset(fields.types.values()), f"search {id_} column")
    source = {
        "query": {"query": query, "language": "lucene"},
        "filter": [],
        "highlightAll": True,
        "version": True,
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    attributes = {
        "title": title,
        "description": f"Lucene: {query}" if query else "",
        "hits": 0,
        "version": 1,
        "columns": columns,
        "sort": [[fields.need(ARTICLE_TIME_FIELD, DATE_TYPES, f"search {id_} sort"), "desc"]],
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
    }
    ref = _ref("kibanaSavedObjectMeta.searchSourceJSON.index", "index-pattern", DV_ARTICLES)
    return _obj("search", id_, attributes, [ref])


def _count_column() -> dict[str, Any]:
    return {
        "label": "Articles",
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "sourceField": _COUNT,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }


def _terms_column(field: str, size: int, label: str, order_by: str) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc",
            "otherBucket": False,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }


def _date_column(field: str) -> dict[str, Any]:
    return {
        "label": field,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": field,
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def _xy(layer: str, series: str, x: str, y: str, split: str | None) -> dict[str, Any]:
    data_layer: dict[str, Any] = {
        "layerId": layer,
        "layerType": "data",
        "seriesType": series,
        "xAccessor": x,
        "accessors": [y],
    }
    if split is not None:
        data_layer["splitAccessor"] = split
    return {
        "legend": {"isVisible": split is not None, "position": "right"},
        "valueLabels": "hide",
        "fittingFunction": "None",
        "preferredSeriesType": series,
        "layers": [data_layer],
        "axisTitlesVisibilitySettings": {"x": False, "yLeft": True, "yRight": True},
        "tickLabelsVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "gridlinesVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "yLeftExtent": {"mode": "full"},
        "yRightExtent": {"mode": "full"},
    }


def _lens(id_: str, title: str, data_view: str, columns: dict[str, Any], visualization):
    layer = "layer1"
    state = {
        "datasourceStates": {
            "formBased": {
                "layers": {
                    layer: {
                        "columns": columns,
                        "columnOrder": list(columns),
                        "incompleteColumns": {},
                    }
                }
            }
        },
        "visualization": visualization(layer),
        "query": {"query": "", "language": "lucene"},
        "filters": [],
        "internalReferences": [],
        "adHocDataViews": {},
    }
    attributes = {"title": title, "description": "", "visualizationType": "lnsXY", "state": state}
    ref = _ref(f"indexpattern-datasource-layer-{layer}", "index-pattern", data_view)
    return _obj("lens", id_, attributes, [ref])


def _over_time(id_: str, title: str, data_view: str, fields: _Fields, *, time: str, split: str):
    columns = {
        "x": _date_column(fields.need(time, DATE_TYPES, f"{id_} x-axis")),
        "count": _count_column(),
        "split": _terms_column(
            fields.need(split, TERMS_TYPES, f"{id_} breakdown"), 15, split, "count"
        ),
    }
    return _lens(
        id_,
        title,
        data_view,
        columns,
        lambda layer: _xy(layer, "bar_stacked", "x", "count", "split"),
    )


def _top(id_: str, title: str, field: str, fields: _Fields, *, size: int = 10):
    columns = {
        "values": _terms_column(
            fields.need(field, TERMS_TYPES, f"{id_} values"), size, field, "count"
        ),
        "count": _count_column(),
    }
    return _lens(
        id_,
        title,
        DV_ARTICLES,
        columns,
        lambda layer: _xy(layer, "bar_horizontal", "values", "count", None),
    )


def _places_map(id_: str, fields: _Fields):
    geo = fields.need("geo.location", GEO_TYPES, f"{id_} layer")
    layers = [
        {
            "id": "basemap",
            "type": "EMS_VECTOR_TILE",
            "label": None,
            "sourceDescriptor": {"type": "EMS_TMS", "isAutoSelect": True,
                                 "lightModeDefault": "road_map_desaturated"},
            "style": {"type": "EMS_VECTOR_TILE", "color": ""},
            "minZoom": 0, "maxZoom": 24, "alpha": 1, "visible": True,
            "includeInFitToBounds": True,
        },
        {
            "id": "places",
            "type": "GEOJSON_VECTOR",
            "label": "Places mentioned",
            "sourceDescriptor": {
                "id": "places-source",
                "type": "ES_GEO_GRID",
                "geoField": geo,
                "requestType": "point",
                "resolution": "COARSE",
                "metrics": [{"type": "count", "label": "articles"}],
                "applyGlobalQuery": True,
                "applyGlobalTime": True,
                "applyForceRefresh": True,
                "indexPatternRefName": "layer_1_source_index_pattern",
            },
            "style": {"type": "VECTOR", "properties": {}, "isTimeAware": True},
            "minZoom": 0, "maxZoom": 24, "alpha": 0.75, "visible": True,
            "includeInFitToBounds": True,
            "joins": [],
        },
    ]  # fmt: skip
    map_state = {
        "zoom": 1.4,
        "center": {"lon": 0, "lat": 15},
        "timeFilters": {"from": "now-30d", "to": "now"},
        "refreshConfig": {"isPaused": True, "interval": 0},
        "query": {"query": "", "language": "lucene"},
        "filters": [],
        "settings": {"autoFitToDataBounds": False},
    }
    attributes = {
        "title": "Places mentioned",
        "description": "Places resolved from the articles (geo.location), counted per grid cell.",
        "layerListJSON": json.dumps(layers),
        "mapStateJSON": json.dumps(map_state),
        "uiStateJSON": json.dumps({"isLayerTOCOpen": False, "openTOCDetails": []}),
    }
    ref = _ref("layer_1_source_index_pattern", "index-pattern", DV_ARTICLES)
    return _obj("map", id_, attributes, [ref])


def _dashboard(panels: list[tuple[str, str, tuple[int, int, int, int]]]):
    """``panels``: (saved object type, id, (x, y, w, h)) on Kibana's 48-column grid."""
    entries, references = [], []
    for n, (type_, id_, (x, y, w, h)) in enumerate(panels, 1):
        index = f"p{n}"
        entries.append({
            "version": _PANEL_VERSION,
            "type": type_,
            "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
            "panelIndex": index,
            "embeddableConfig": {"enhancements": {}},
            "panelRefName": f"panel_{index}",
        })  # fmt: skip
        references.append(_ref(f"{index}:panel_{index}", type_, id_))
    attributes = {
        "title": "newsflow: migration news overview",
        "description": "Articles by tag over time, who and where, the latest articles, alerts.",
        "panelsJSON": json.dumps(entries),
        "optionsJSON": json.dumps(
            {
                "useMargins": True,
                "syncColors": False,
                "syncCursor": True,
                "syncTooltips": False,
                "hidePanelTitles": False,
            }
        ),
        "timeRestore": True,
        "timeFrom": "now-30d",
        "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 60000},
        "version": 1,
        "kibanaSavedObjectMeta": {
            "searchSourceJSON": json.dumps(
                {"query": {"query": "", "language": "lucene"}, "filter": []}
            )
        },
    }
    return _obj("dashboard", DASHBOARD_ID, attributes, references)


def build_saved_objects(settings: Settings) -> list[dict[str, Any]]:
    """Every saved object, data views first, the dashboard last."""
    articles = _Fields(DV_ARTICLES, article_template(settings.index.articles))
    alerts = _Fields(DV_ALERTS, alert_template(settings.index.alerts))
    columns = [articles.need(c, TERMS_TYPES, "column") for c in
               ("source", "language", "tags", "places", "persons")]  # fmt: skip
    columns.insert(0, "title")
    articles.need("title", frozenset({"text"}), "column")
    migration = articles.need("migration_related", frozenset({"boolean"}), "search")
    tags = articles.need("tags", TERMS_TYPES, "search")
    language = articles.need("language", TERMS_TYPES, "search")

    objects = [
        _data_view(DV_ARTICLES, f"{settings.index.articles}-*", "newsflow articles",
                   ARTICLE_TIME_FIELD, articles),
        _data_view(DV_ALERTS, f"{settings.index.alerts}-*", "newsflow alerts",
                   ALERT_TIME_FIELD, alerts),
        _saved_search("newsflow-search-latest", "Latest articles", "", articles,
                      columns=columns),
        _saved_search("newsflow-search-migration", "Migration news", f"{migration}:true",
                      articles, columns=columns),
        _saved_search("newsflow-search-spanish", "Spanish-language coverage",
                      f"{language}:es", articles, columns=columns),
    ]  # fmt: skip
    for family, (label, ids) in TAG_FAMILIES.items():
        query = f"{tags}:(" + " OR ".join(ids) + ")"
        objects.append(
            _saved_search(
                f"newsflow-search-family-{family}",
                f"Tags: {label}",
                query,
                articles,
                columns=columns,
            )
        )
    objects += [
        _over_time("newsflow-lens-articles-by-tag", "Articles over time by tag", DV_ARTICLES,
                   articles, time=ARTICLE_TIME_FIELD, split="tags"),
        _top("newsflow-lens-top-persons", "Top people", "persons", articles),
        _top("newsflow-lens-top-places", "Top places", "places", articles),
        _top("newsflow-lens-top-orgs", "Top organisations", "orgs", articles),
        _top("newsflow-lens-top-nationalities", "Top nationalities", "nationalities", articles),
        _places_map("newsflow-map-places", articles),
        _over_time("newsflow-lens-alerts-over-time", "Alerts over time by rule", DV_ALERTS,
                   alerts, time=ALERT_TIME_FIELD, split="rule_name"),
    ]  # fmt: skip
    objects.append(_dashboard([
        ("lens", "newsflow-lens-articles-by-tag", (0, 0, 32, 14)),
        ("lens", "newsflow-lens-alerts-over-time", (32, 0, 16, 14)),
        ("lens", "newsflow-lens-top-persons", (0, 14, 12, 14)),
        ("lens", "newsflow-lens-top-places", (12, 14, 12, 14)),
        ("lens", "newsflow-lens-top-orgs", (24, 14, 12, 14)),
        ("lens", "newsflow-lens-top-nationalities", (36, 14, 12, 14)),
        ("map", "newsflow-map-places", (0, 28, 24, 18)),
        ("search", "newsflow-search-latest", (24, 28, 24, 18)),
    ]))  # fmt: skip
    return objects


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    """One object per line, keys sorted, so the committed file diffs cleanly."""
    return "".join(json.dumps(o, sort_keys=True, ensure_ascii=False) + "\n" for o in objects)


def build_ndjson(settings: Settings) -> str:
    return to_ndjson(build_saved_objects(settings))
