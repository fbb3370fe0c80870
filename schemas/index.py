"""Elasticsearch index templates derived from the pydantic models.

Each leaf field's type comes from its ``json_schema_extra={"es": …}`` metadata, or from its
Python type when there is none, so adding a field to a model adds it to the mapping.
Only built-in analysis is used (``standard``): the local integ-test distribution has no
``analysis-common`` module, and the same mapping must work on a full cluster.
"""

from __future__ import annotations

import types
from datetime import datetime
from typing import Any, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from schemas.alerts import Alert, AlertRule
from schemas.articles import EnrichedArticle

_SCALARS: dict[type, dict[str, Any]] = {
    str: {"type": "keyword"},
    bool: {"type": "boolean"},
    int: {"type": "long"},
    float: {"type": "float"},
    datetime: {"type": "date"},
    AwareDatetime: {"type": "date"},
}


def _members(annotation: Any) -> list[Any]:
    """The element types behind Optional, list, Annotated and unions."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return [m for a in get_args(annotation) if a is not type(None) for m in _members(a)]
    if origin is list or hasattr(annotation, "__metadata__"):
        return _members(get_args(annotation)[0])
    return [annotation]


def _field_mapping(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    mapping = extra.get("es") if isinstance(extra, dict) else None
    if isinstance(mapping, dict):
        return dict(mapping)
    members = _members(info.annotation)
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if models:  # a union of models (alert channels) maps the fields of every member
        return {"properties": {k: v for model in models for k, v in properties(model).items()}}
    inner = members[0]
    if isinstance(inner, type):
        for python_type, mapping in _SCALARS.items():
            if issubclass(inner, python_type):
                return dict(mapping)
    # URLs, secrets and other scalar wrappers are identifiers in the index.
    return {"type": "keyword"}


def properties(model: type[BaseModel]) -> dict[str, Any]:
    """The mapping ``properties`` for a model."""
    return {name: _field_mapping(info) for name, info in model.model_fields.items()}


# The fields a query without ``fields`` searches (Kibana's search bar sends none): the
# article text, exactly the fields alert rules read for a bare term.  Unset, it is ``*``,
# and ``migra*`` would also match tag ids such as ``migration_policy_law``.
ARTICLE_DEFAULT_FIELDS: tuple[str, ...] = ("title", "body")


def _template(
    name: str,
    model: type[BaseModel],
    *,
    shards: int,
    replicas: int,
    priority: int = 200,
    default_fields: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    settings: dict[str, Any] = {"number_of_shards": shards, "number_of_replicas": replicas}
    if default_fields is not None:
        settings["index.query.default_field"] = list(default_fields)
    return {
        "index_patterns": [f"{name}-*"],
        "priority": priority,
        "template": {
            "settings": settings,
            "mappings": {"dynamic": "strict", "properties": properties(model)},
        },
        "_meta": {"managed_by": "newsflow", "model": model.__name__},
    }


def article_template(name: str, *, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """Template for ``<name>-*`` indices; ``newsflow setup`` puts the ``<name>`` alias on one."""
    return _template(
        name, EnrichedArticle, shards=shards, replicas=replicas,
        default_fields=ARTICLE_DEFAULT_FIELDS,
    )


def dynamic_settings(template: dict[str, Any]) -> dict[str, Any]:
    """The template's settings that an existing index can take without a reindex."""
    settings = template["template"]["settings"]
    return {k: v for k, v in settings.items() if k.startswith("index.query.")}


def alert_template(name: str, *, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    return _template(name, Alert, shards=shards, replicas=replicas)


def alert_rule_template(name: str, *, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    return _template(name, AlertRule, shards=shards, replicas=replicas)
