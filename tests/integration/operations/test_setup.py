"""``newsflow setup`` on the real node: the article index searches the matcher's fields.

Kibana's search bar sends ``query_string`` without ``fields``; the index setting
``index.query.default_field`` decides what it searches.  A new index gets it from the
template; an index created before the setting existed gets it when setup runs again, and
so does a field added to the model (``agencies``) reach an index created before it.
"""

from __future__ import annotations

import pytest

from pipeline.alerts.rules.analysis import DEFAULT_FIELDS
from pipeline.operations.setup import install_indices
from schemas.index import article_template
from tests.support import Namespace

pytestmark = pytest.mark.stack


def _default_fields(ns: Namespace) -> list[str] | None:
    answer = ns.es.indices.get_settings(index=ns.settings.index.articles)
    (settings,) = answer.body.values()
    return settings["settings"]["index"].get("query", {}).get("default_field")


def test_article_index_default_fields_are_the_matchers(namespace: Namespace) -> None:
    assert _default_fields(namespace) == list(DEFAULT_FIELDS)
    # An index from before: the setting removed, as it was unset until now.
    namespace.es.indices.put_settings(
        index=namespace.settings.index.articles, settings={"index.query.default_field": None}
    )
    assert _default_fields(namespace) is None
    install_indices(namespace.es, namespace.settings)
    assert _default_fields(namespace) == list(DEFAULT_FIELDS)


def test_a_field_added_to_the_model_reaches_an_index_from_before(namespace: Namespace) -> None:
    alias = f"{namespace.settings.kafka.consumer_group}-oldarticles"  # no template matches
    settings = namespace.settings.replaced(index={"articles": alias})
    template = article_template(alias)["template"]
    before = {k: v for k, v in template["mappings"]["properties"].items() if k != "agencies"}
    namespace.es.indices.create(
        index=f"{alias}-000001",
        settings=template["settings"],
        mappings={**template["mappings"], "properties": before},
        aliases={alias: {"is_write_index": True}},
    )
    try:
        install_indices(namespace.es, settings)
        (mapping,) = namespace.es.indices.get_mapping(index=alias).body.values()
        assert mapping["mappings"]["properties"]["agencies"] == {"type": "keyword"}
    finally:
        namespace.es.options(ignore_status=404).indices.delete(index=f"{alias}-000001")
        namespace.es.options(ignore_status=404).indices.delete_index_template(name=alias)
