"""The alert API's key check, key loading and request validation, with no service running.

Kafka and Elasticsearch point at a closed port: a request that passes authentication and
validation then fails with 503, which is how these tests tell "let in" from "kept out"
without a broker.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.alerts.api import ApiConfigError, create_api, load_api_keys
from pipeline.alerts.rules import RuleSyntaxError, parse_rule
from pipeline.core.settings import Settings
from tests.support import offline_settings

KEY = "k-unit-3f9a1c-0123456789abcdef0123456789"
OTHER_KEY = "k-unit-other-77-0123456789abcdef01234567"
FILE_KEY_1 = "file-key-1-0123456789abcdef0123456789ab"
FILE_KEY_2 = "file-key-2-0123456789abcdef0123456789ab"
FILE_ONLY = "only-in-file-0123456789abcdef0123456789"


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    defaults: dict[str, object] = {"api__keys": [KEY, OTHER_KEY]}
    return offline_settings(tmp_path, **{**defaults, **overrides})


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_api(_settings(tmp_path)))


# A valid rule whose query reaches the service only after auth and validation pass.
_TRY = {"query": "asylum AND Lampedusa", "days": 3}


def test_no_key_is_401(client: TestClient) -> None:
    for method, path in [
        ("GET", "/rules"),
        ("GET", "/rules/some-rule"),
        ("DELETE", "/rules/some-rule"),
        ("POST", "/rules/some-rule/disable"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.post("/rules/test", json=_TRY).status_code == 401


def test_wrong_key_is_401(client: TestClient) -> None:
    assert client.post("/rules/test", json=_TRY, headers={"X-API-Key": "nope"}).status_code == 401
    assert (
        client.post("/rules/test", json=_TRY, headers={"X-API-Key": KEY + "x"}).status_code == 401
    )
    bearer = {"Authorization": f"Bearer {KEY[:-1]}"}
    assert client.post("/rules/test", json=_TRY, headers=bearer).status_code == 401


def test_valid_key_is_let_in_by_header_or_bearer(client: TestClient) -> None:
    # Past auth and validation, the closed Elasticsearch port answers: 503, not 401.
    for headers in (
        {"X-API-Key": KEY},
        {"X-API-Key": OTHER_KEY},
        {"Authorization": f"Bearer {KEY}"},
    ):
        response = client.post("/rules/test", json=_TRY, headers=headers)
        assert response.status_code == 503, headers
        assert "Elasticsearch" in response.json()["detail"]


def test_invalid_query_is_422_with_position(client: TestClient) -> None:
    headers = {"X-API-Key": KEY}
    rule = {"name": "Ceuta fence", "query": "Ceuta AND (fence OR valla"}
    response = client.post("/rules", json=rule, headers=headers)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "rule_syntax"
    assert error["position"] == len(rule["query"])
    assert error["msg"]
    assert error["loc"] == ["body", "query"]

    fuzzy = "Calais OR boat~"
    with pytest.raises(RuleSyntaxError) as parsed:
        parse_rule(fuzzy)
    response = client.post("/rules/test", json={"query": fuzzy}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["position"] == parsed.value.position
    assert response.json()["detail"][0]["msg"] == parsed.value.message

    response = client.put("/rules/r1", json={"name": "r", "query": "a AND"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "rule_syntax"


def test_rules_past_the_limits_are_422_not_500(client: TestClient) -> None:
    headers = {"X-API-Key": KEY}
    deep = "(" * 1990 + "Ceuta" + ")" * 1990  # was a RecursionError: HTTP 500
    response = client.post("/rules", json={"name": "deep", "query": deep}, headers=headers)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["type"], error["position"]) == ("rule_syntax", 20)
    assert "nested too deeply" in error["msg"]
    kql = {"name": "kql", "query": "Ceuta and fence > 3", "language": "kql"}
    response = client.post("/rules", json=kql, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["position"] == len("Ceuta and fence ")
    response = client.post("/rules/test", json={"query": deep, "language": "kql"}, headers=headers)
    assert response.status_code == 422


def test_bad_rule_fields_are_422(client: TestClient) -> None:
    headers = {"X-API-Key": KEY}
    bad = [
        {"name": "x", "query": "a", "id": "Not An Id"},
        {"name": "x", "query": "a", "mode": "weekly"},
        {"name": "x", "query": "a", "channels": [{"kind": "email", "to": ["not-an-address"]}]},
        {"name": "x", "query": "a", "channels": [{"kind": "pager", "url": "http://h/"}]},
        {"name": "x", "query": "a", "created_at": "2024-01-01T00:00:00Z"},
        {"query": "a"},
    ]
    for body in bad:
        assert client.post("/rules", json=body, headers=headers).status_code == 422, body
    mismatch = {"id": "other", "name": "x", "query": "a"}
    assert client.put("/rules/r1", json=mismatch, headers=headers).status_code == 422
    neither = client.post("/rules/test", json={"days": 7}, headers=headers)
    assert neither.status_code == 422


def test_openapi_is_public_and_declares_both_schemes(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/rules", "/rules/{rule_id}", "/rules/test", "/rules/{rule_id}/enable"} <= set(
        schema["paths"]
    )
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"apiKey", "http"}
    assert "RuleDraft" in schema["components"]["schemas"]
    assert "created_at" not in schema["components"]["schemas"]["RuleDraft"]["properties"]


def test_no_key_configured_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ApiConfigError, match="no API key"):
        create_api(_settings(tmp_path, api__keys=[]))


def test_key_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "api.keys"
    path.write_text(f"# rotated 2024-05\n{FILE_KEY_1}\n\n{FILE_KEY_2}\n")
    path.chmod(0o644)
    with pytest.raises(ApiConfigError, match="chmod 600"):
        load_api_keys(_settings(tmp_path, api__keys=[]))
    path.chmod(0o600)
    assert load_api_keys(_settings(tmp_path, api__keys=[])) == [FILE_KEY_1, FILE_KEY_2]
    assert load_api_keys(_settings(tmp_path)) == [KEY, OTHER_KEY, FILE_KEY_1, FILE_KEY_2]


def test_key_from_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.keys"
    path.write_text(f"{FILE_ONLY}\n")
    path.chmod(0o600)
    api = create_api(_settings(tmp_path, api__keys=[], api__key_file=path))
    client = TestClient(api)
    assert client.post("/rules/test", json=_TRY, headers={"X-API-Key": KEY}).status_code == 401
    ok = client.post("/rules/test", json=_TRY, headers={"X-API-Key": FILE_ONLY})
    assert ok.status_code == 503


def test_missing_explicit_key_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ApiConfigError, match="does not exist"):
        load_api_keys(_settings(tmp_path, api__key_file=tmp_path / "absent.keys"))
