"""``newsflow kibana import`` against a loopback server that answers as Kibana's spaces and
saved-objects import APIs do: a missing space is created, kept objects are not an error."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from agents.cli import app


class FakeKibana:
    def __init__(self) -> None:
        self.spaces = {"default"}
        self.requests: list[tuple[str, str]] = []
        kibana = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                kibana.requests.append(("GET", self.path))
                space = self.path.rsplit("/", 1)[1]
                if space in kibana.spaces:
                    self._reply(200, {"id": space})
                else:
                    self._reply(404, {"statusCode": 404})

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                kibana.requests.append(("POST", self.path))
                if self.path == "/api/spaces/space":
                    kibana.spaces.add(json.loads(body)["id"])
                    self._reply(200, json.loads(body))
                elif "/api/saved_objects/_import" in self.path:
                    space = self.path.split("/")[2] if self.path.startswith("/s/") else "default"
                    if space not in kibana.spaces:
                        self._reply(404, {"statusCode": 404})
                    elif "overwrite=false" in self.path:
                        conflict = {"type": "dashboard", "id": "d1", "title": "News",
                                    "error": {"type": "conflict"}}
                        self._reply(200, {"success": False, "successCount": 3,
                                          "errors": [conflict]})
                    else:
                        self._reply(200, {"success": True, "successCount": 4})

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    fake = FakeKibana()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def _import(kibana: FakeKibana, *args: str) -> object:
    return CliRunner().invoke(app, ["kibana", "import", "--url", kibana.url, "--user", "u",
                                    "--password", "p", *args])


def test_a_missing_space_is_created_before_the_import(kibana: FakeKibana) -> None:
    result = _import(kibana, "--space", "analysts")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert kibana.requests[:2] == [("GET", "/api/spaces/space/analysts"),
                                   ("POST", "/api/spaces/space")]
    assert kibana.requests[2][1].startswith("/s/analysts/api/saved_objects/_import")
    assert "analysts" in kibana.spaces
    again = _import(kibana, "--space", "analysts")
    assert again.exit_code == 0 and ("POST", "/api/spaces/space") not in kibana.requests[3:]  # type: ignore[attr-defined]


def test_keep_existing_does_not_overwrite_and_kept_objects_are_not_errors(
    kibana: FakeKibana,
) -> None:
    result = _import(kibana, "--keep-existing")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "overwrite=false" in kibana.requests[-1][1]
    assert "kept 1 already there" in result.output  # type: ignore[attr-defined]
    overwrite = _import(kibana)
    assert overwrite.exit_code == 0 and "overwrite=true" in kibana.requests[-1][1]  # type: ignore[attr-defined]
