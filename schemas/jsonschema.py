"""JSON Schema for publishers and consumers written in other languages."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.alerts import Alert, AlertRule
from schemas.articles import EnrichedArticle, RawArticle
from schemas.deadletter import DeadLetter
from schemas.feeds import FeedState, FeedSubscription

EXPORTED: dict[str, type[BaseModel]] = {
    "raw-article": RawArticle,
    "enriched-article": EnrichedArticle,
    "dead-letter": DeadLetter,
    "alert-rule": AlertRule,
    "alert": Alert,
    "feed-subscription": FeedSubscription,
    "feed-state": FeedState,
}
SCHEMA_DIR = Path(__file__).parent / "json"


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write one ``<name>.schema.json`` per wire model; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in EXPORTED.items():
        path = directory / f"{name}.schema.json"
        path.write_text(render(model))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in export():
        print(path)
