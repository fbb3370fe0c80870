"""The alert-rule API over the real Kafka and Elasticsearch, in an isolated namespace."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pipeline.alerts.api import create_api
from pipeline.alerts.store import load_rules
from pipeline.index.writer import index_documents
from schemas.articles import EnrichedArticle
from tests.support import ROOT

pytestmark = pytest.mark.stack

KEY = "api-integration-key-c81f-0123456789abcdef"
SECRET = "api-integration-webhook-secret-20ab9f"  # ≥ 32 bytes
RULE = {
    "name": "Calais small boats",
    "query": "Calais AND (boat OR dinghy)",
    "channels": [{"kind": "webhook", "url": "https://hooks.example.org/c", "secret": SECRET}],
    "mode": "instant",
}


@pytest.fixture
def api(namespace) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = namespace.settings.replaced(api={"keys": [SecretStr(KEY)]})
    with TestClient(create_api(settings), headers={"X-API-Key": KEY}) as client:
        yield client


def test_rule_crud_over_http(api: TestClient, namespace) -> None:  # type: ignore[no-untyped-def]
    created = api.post("/rules", json=RULE)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["id"] == "calais-small-boats"
    assert rule["channels"][0]["secrets"] == ["**********"]
    assert rule["generated_secrets"] == []
    assert load_rules(namespace.settings)["calais-small-boats"].query == RULE["query"]

    again = api.post("/rules", json={**RULE, "throttle_seconds": 120})
    assert again.status_code == 200
    assert again.json()["created_at"] == rule["created_at"]
    assert again.json()["throttle_seconds"] == 120

    listed = api.get("/rules")
    assert [r["id"] for r in listed.json()] == ["calais-small-boats"]
    shown = api.get("/rules/calais-small-boats")
    assert shown.json()["query"] == RULE["query"]
    for response in (created, again, listed, shown):
        assert SECRET not in response.text

    # GET then PUT back unchanged (masked secret included) keeps the real secret.
    body = {k: v for k, v in shown.json().items() if k not in ("created_at", "updated_at")}
    body["disabled_reason"] = "set by a client"  # the pipeline's to set: ignored
    body["name"] = "Calais boats"
    replaced = api.put("/rules/calais-small-boats", json=body)
    assert replaced.status_code == 200, replaced.text
    stored = load_rules(namespace.settings)["calais-small-boats"]
    assert stored.name == "Calais boats" and stored.disabled_reason is None
    assert stored.channels[0].secrets[0].get_secret_value() == SECRET  # type: ignore[union-attr]

    assert api.post("/rules/calais-small-boats/disable").json()["enabled"] is False
    assert load_rules(namespace.settings)["calais-small-boats"].enabled is False
    assert api.post("/rules/calais-small-boats/enable").json()["enabled"] is True

    assert api.delete("/rules/calais-small-boats").status_code == 204
    assert load_rules(namespace.settings) == {}
    assert api.get("/rules/calais-small-boats").status_code == 404
    assert api.delete("/rules/calais-small-boats").status_code == 404
    assert api.post("/rules/calais-small-boats/enable").status_code == 404

    assert api.get("/rules", headers={"X-API-Key": "wrong"}).status_code == 401


def test_backtest_over_http(api: TestClient, namespace) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    articles = [
        EnrichedArticle(
            id=f"api-bt-{i}",
            title=title,
            body=body,
            source="api-wire",
            published_at=now - age,
            ingested_at=now,
            language="en",
            story_id=f"api-s{i}",
        )  # fmt: skip
        for i, (title, body, age) in enumerate(
            [
                (
                    "Dinghy rescued off Calais",
                    "A dinghy with 50 people was rescued off Calais.",
                    timedelta(hours=3),
                ),
                (
                    "Calais port reopens",
                    "Lorries queued at Calais after the strike.",
                    timedelta(hours=4),
                ),
            ]
        )  # fmt: skip
    ]
    assert index_documents(namespace.es, articles, index=namespace.settings.index.articles) == []
    namespace.es.indices.refresh(index=namespace.settings.index.articles)
    assert api.post("/rules", json=RULE).status_code == 201

    by_query = api.post("/rules/test", json={"query": RULE["query"], "days": 1})
    assert by_query.status_code == 200, by_query.text
    assert by_query.json()["articles"] == 1
    assert by_query.json()["matches"][0]["title"] == "Dinghy rescued off Calais"
    by_id = api.post("/rules/test", json={"rule_id": "calais-small-boats"})
    assert by_id.json()["matches"][0]["id"] == "api-bt-0"
    assert api.post("/rules/test", json={"rule_id": "absent"}).status_code == 404


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.security
def test_newsflow_api_serves_with_uvicorn(namespace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "api.keys"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    port = _free_port()
    env = {**namespace.env, "NEWSFLOW_API_KEY_FILE": str(key_file)}
    log = (tmp_path / "api.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agents.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                schema = httpx.get(f"{base}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "api.log").read_text()
                assert time.monotonic() < deadline, "API did not start"
                time.sleep(0.5)
        assert schema.status_code == 200
        assert "/rules/{rule_id}" in schema.json()["paths"]
        assert httpx.get(f"{base}/rules", timeout=30).status_code == 401
        bearer = {"Authorization": f"Bearer {KEY}"}
        answer = httpx.get(f"{base}/rules", headers=bearer, timeout=30)
        assert answer.status_code == 200
        assert answer.json() == []
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
