"""The API checks before it reads: key, body size, failed attempts, headers (no services).

Kafka and Elasticsearch point at a closed port, so a request let through ends in 503:
that is how these tests tell "let in" from "kept out".  The raw ASGI tests count the
body reads themselves, so "not read" is observed, not assumed.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.alerts.api import ApiConfigError, create_api, load_api_keys, new_api_key
from pipeline.core.settings import Settings
from tests.support import offline_settings

pytestmark = pytest.mark.security

KEY = new_api_key()


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    defaults: dict[str, object] = {"api__keys": [KEY], "api__max_failed_attempts": 3}
    return offline_settings(tmp_path, **{**defaults, **overrides})


def _call(app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, int]:
    """One POST /rules through the raw ASGI interface: (status, body chunks read)."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        if reads <= len(chunks):
            return {"type": "http.request", "body": chunks[reads - 1],
                    "more_body": reads < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/rules", "raw_path": b"/rules", "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver"), *headers],
        "client": ("203.0.113.7", 5000), "server": ("testserver", 80),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], reads


def test_without_a_key_a_huge_body_is_refused_unread(tmp_path: Path) -> None:
    app = create_api(_settings(tmp_path))
    huge = [(b"content-type", b"application/json"), (b"content-length", b"67108864")]
    status, reads = _call(app, huge, [b"x" * 65536] * 1024)
    assert (status, reads) == (401, 0)


def test_malformed_json_without_a_key_is_401_not_422(tmp_path: Path) -> None:
    client = TestClient(create_api(_settings(tmp_path)))
    response = client.post("/rules", content=b"{not json", headers={"content-type":
                                                                     "application/json"})
    assert response.status_code == 401


def test_a_body_over_64_kib_is_413_with_a_key_declared_or_streamed(tmp_path: Path) -> None:
    app = create_api(_settings(tmp_path))
    key = (b"x-api-key", KEY.encode())
    declared = [key, (b"content-type", b"application/json"), (b"content-length", b"70000")]
    assert _call(app, declared, [b"x" * 70000]) == (413, 0)
    # Chunked (no length): read until the count passes the limit, then refused.
    streamed = [key, (b"content-type", b"application/json")]
    status, reads = _call(app, streamed, [b" " * 16384] * 64)
    assert status == 413 and reads == 5  # 5 × 16 KiB > 64 KiB; the other 59 chunks unread
    small = json.dumps({"name": "Ceuta", "query": "Ceuta"}).encode()
    assert _call(app, [key, (b"content-type", b"application/json")], [small])[0] == 503


def test_failed_attempts_are_limited_per_client(tmp_path: Path) -> None:
    client = TestClient(create_api(_settings(tmp_path)))
    wrong = {"X-API-Key": "w" * 43}
    assert [client.get("/rules", headers=wrong).status_code for _ in range(3)] == [401] * 3
    limited = client.get("/rules", headers=wrong)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    # Limited means limited: not even the right key is looked at from this client now.
    assert client.get("/rules", headers={"X-API-Key": KEY}).status_code == 429
    other = TestClient(create_api(_settings(tmp_path)), client=("198.51.100.9", 1))
    assert other.get("/rules", headers={"X-API-Key": KEY}).status_code == 503


def test_security_headers_on_every_answer(tmp_path: Path) -> None:
    client = TestClient(create_api(_settings(tmp_path)))
    for response in (client.get("/rules"), client.get("/openapi.json"),
                     client.get("/rules", headers={"X-API-Key": KEY})):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in client.get("/rules").headers["content-security-policy"]
    assert client.get("/docs").status_code == 200  # Swagger UI still loads


@pytest.mark.parametrize("short", ["k", "k-unit-3f9a1c", "x" * 31])
def test_keys_shorter_than_32_characters_refuse_to_start(tmp_path: Path, short: str) -> None:
    with pytest.raises(ApiConfigError, match="newsflow api-key"):
        create_api(_settings(tmp_path, api__keys=[KEY, short]))


def test_generated_keys_are_long_and_different() -> None:
    keys = {new_api_key() for _ in range(5)}
    assert len(keys) == 5 and all(len(k) >= 32 for k in keys)


def test_api_key_command_saves_a_private_key_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agents.cli import app
    from pipeline.core.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["api-key", "--save"],
                                    env={"NEWSFLOW_HOME": str(tmp_path)})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    path = tmp_path / "api.keys"
    assert (path.stat().st_mode & 0o777) == 0o600
    assert load_api_keys(_settings(tmp_path, api__keys=[])) == [key]
