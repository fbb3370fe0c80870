"""The contracts: what they accept, what they refuse, and the index template derived from them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from schemas import Alert, AlertRule, DeadLetter, EnrichedArticle, RawArticle
from schemas.index import article_template, properties
from schemas.jsonschema import EXPORTED, SCHEMA_DIR, render
from tests.support import SAMPLE_ARTICLE


def _raw(**fields: object) -> dict:
    return {"body": "Migrants crossed the border at Colchane.", **fields}


def test_sample_article_validates() -> None:
    body = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    article = RawArticle(body=body, source="sample", url="https://example.org/a?x=1")
    assert article.body.startswith("IQUIQUE, Chile")
    assert str(article.url) == "https://example.org/a?x=1"


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"body": ""}, "body"),
        ({"body": " \u200b\x00 "}, "body"),
        ({"body": "x" * 1_000_001}, "body"),
        ({"url": "not a url"}, "url"),
        ({"published_at": "2024-01-01T10:00:00"}, "published_at"),  # naive
        ({"published_at": "9999-01-01T00:00:00Z"}, "published_at"),
        ({"published_at": "1850-01-01T00:00:00Z"}, "published_at"),
        ({"language": "english"}, "language"),
        ({"id": "has space"}, "id"),
        ({"bdy": "typo"}, "bdy"),
        ({"title": 42}, "title"),
        ({"authors": "one string"}, "authors"),
    ],
)
def test_raw_article_refuses(fields: dict, where: str) -> None:
    with pytest.raises(ValidationError) as info:
        RawArticle.model_validate(_raw(**fields))
    assert where in {str(err["loc"][0]) for err in info.value.errors()}


def test_raw_article_missing_body() -> None:
    with pytest.raises(ValidationError, match="body"):
        RawArticle.model_validate({"title": "no body"})


def test_raw_article_keeps_metadata_and_aware_dates() -> None:
    article = RawArticle.model_validate(
        _raw(published_at="2024-02-06T10:00:00-03:00", metadata={"category": "politics"})
    )
    assert article.published_at is not None and article.published_at.utcoffset() is not None
    assert article.metadata == {"category": "politics"}


def _mapped_fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_article_template_covers_every_model_field() -> None:
    mapping = article_template("news-articles")["template"]["mappings"]
    assert mapping["dynamic"] == "strict"
    props = mapping["properties"]
    assert set(props) == set(EnrichedArticle.model_fields)
    # What Kibana and the alert language rely on.
    for name in ("title", "body"):
        assert props[name]["type"] == "text"
    for name in ("id", "source", "language", "tags", "persons", "orgs", "places",
                 "nationalities", "groups", "agencies", "countries", "story_id"):
        assert props[name]["type"] == "keyword", name
    assert props["published_at"]["type"] == "date"
    assert props["geo"]["properties"]["location"]["type"] == "geo_point"
    assert props["entities"]["properties"]["label"]["type"] == "keyword"
    assert props["topics"]["properties"]["id"]["type"] == "keyword"


def test_alert_template_fields_match_model() -> None:
    assert set(properties(Alert)) == set(Alert.model_fields)


def test_enriched_article_document_fits_the_mapping() -> None:
    """Every key of a dumped document is in the mapping (strict mapping would refuse it)."""
    now = datetime.now(UTC)
    article = EnrichedArticle(
        id="a1", body="text", published_at=now, ingested_at=now, language="en", story_id="a1",
        entities=[{"text": "Iquique", "label": "GPE", "count": 1,
                   "mentions": [{"start": 0, "end": 7}]}],
        geo=[{"name": "Iquique", "country_code": "CL",
              "location": {"lat": -20.2, "lon": -70.1}}],
        topics=[{"id": "border_crossing", "score": 0.9,
                 "evidence": [{"cue": "cross", "start": 0, "end": 5}]}],
    )
    props = article_template("x")["template"]["mappings"]["properties"]

    def check(doc: dict, mapping: dict) -> None:
        for key, value in doc.items():
            assert key in mapping, key
            sub = mapping[key]
            if sub.get("enabled") is False or sub.get("type") == "geo_point":
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict):
                    check(item, sub["properties"])

    check(article.model_dump(mode="json"), props)


def test_exported_json_schema_is_current() -> None:
    for name, model in EXPORTED.items():
        path = SCHEMA_DIR / f"{name}.schema.json"
        assert path.read_text() == render(model), f"run: python -m schemas.jsonschema ({path})"
        assert json.loads(path.read_text())["title"] == model.__name__


def test_alert_id_is_deterministic_per_rule_and_story() -> None:
    assert Alert.make_id("r1", "s1") == Alert.make_id("r1", "s1")
    assert Alert.make_id("r1", "s1") != Alert.make_id("r1", "s2")
    assert Alert.make_id("r1", "s1") != Alert.make_id("r2", "s1")


def test_alert_rule_channels_are_typed() -> None:
    now = datetime.now(UTC)
    rule = AlertRule(
        id="colchane", name="Colchane", query="Colchane AND migra*", created_at=now,
        updated_at=now,
        channels=[{"kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "hush-42" * 5},
                  {"kind": "email", "to": ["desk@example.org"]}],
    )
    assert [c.kind for c in rule.channels] == ["webhook", "email"]
    assert "hush-42" not in rule.model_dump_json()  # masked in listings and logs
    assert "hush-42" not in repr(rule)
    wire = rule.model_dump_json(context={"reveal_secrets": True})
    [secret] = AlertRule.model_validate_json(wire).channels[0].secrets  # type: ignore[union-attr]
    assert secret.get_secret_value() == "hush-42" * 5
    with pytest.raises(ValidationError):
        AlertRule(id="Bad Id", name="x", query="x", created_at=now, updated_at=now)


def test_dead_letter_round_trips_bytes() -> None:
    payload = b"\xff\xfe not utf-8"
    letter = DeadLetter(stage="validate", reason="invalid_utf8", error="byte 0",
                        payload_b64=DeadLetter.encode(payload), first_seen=datetime.now(UTC))
    assert DeadLetter.model_validate_json(letter.model_dump_json()).payload() == payload
