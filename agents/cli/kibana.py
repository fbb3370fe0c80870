"""``newsflow kibana build | import``: the data views, searches and dashboard for Kibana."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from agents.cli._exit import fail as _fail
from pipeline.core.settings import get_settings
from pipeline.index.kibana import NDJSON_PATH, build_ndjson

kibana_app = typer.Typer(
    help="Kibana saved objects: build the NDJSON, import it.", no_args_is_help=True
)

_RETRY_STATUS = {502, 503, 504}


@kibana_app.command("build")
def build_command(
    out: Annotated[Path, typer.Option(help="Where to write the NDJSON.")] = NDJSON_PATH,
) -> None:
    """Write the saved objects for the configured index names (NEWSFLOW_INDEX_*)."""
    text = build_ndjson(get_settings())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    typer.echo(f"wrote {len(text.splitlines())} saved objects to {out}")


def _auth_headers(api_key: str | None) -> dict[str, str]:
    headers = {"kbn-xsrf": "newsflow"}
    if api_key:
        headers["Authorization"] = f"ApiKey {api_key}"
    return headers


def _post(
    client: httpx.Client, url: str, payload: bytes, *, wait: float, overwrite: str
) -> httpx.Response:
    """POST the file, retrying while Kibana is unreachable or still starting (up to ``wait``)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            response = client.post(
                url,
                files={"file": ("newsflow.ndjson", payload, "application/ndjson")},
                params={"overwrite": overwrite},
            )
        except httpx.TransportError:
            if time.monotonic() >= deadline:
                raise
        else:
            if response.status_code not in _RETRY_STATUS or time.monotonic() >= deadline:
                return response
        time.sleep(2.0)


def _ensure_space(client: httpx.Client, url: str, space: str) -> None:
    """Create the Kibana space ``space`` unless it exists (an import into a missing space
    is a 404)."""
    found = client.get(f"{url}/api/spaces/space/{space}")
    if found.status_code == 200:
        return
    if found.status_code != 404:
        _fail(f"Kibana answered {found.status_code} when asked for space {space!r}", 1)
    created = client.post(f"{url}/api/spaces/space", json={"id": space, "name": space})
    if created.status_code not in (200, 409):  # 409: made meanwhile by someone else
        _fail(f"Kibana refused to create space {space!r} ({created.status_code})", 1)
    typer.echo(f"created Kibana space {space!r}")


def _error_line(error: dict[str, Any]) -> str:
    kind = error.get("error", {}).get("type", "error")
    detail = {k: v for k, v in error.get("error", {}).items() if k != "type"}
    extra = f" {json.dumps(detail)}" if detail else ""
    return f"{error.get('type')}/{error.get('id')} ({error.get('title', '')}): {kind}{extra}"


@kibana_app.command("import")
def import_command(
    url: Annotated[str, typer.Option(help="Kibana base URL.")] = "http://127.0.0.1:5601",
    api_key: Annotated[str | None, typer.Option(help="Kibana API key (base64 id:key).")] = None,
    user: Annotated[
        str | None, typer.Option(help="Basic-auth user (default: NEWSFLOW_ES_USER).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Basic-auth password (default: the Elasticsearch password setting)."),
    ] = None,
    space: Annotated[
        str | None,
        typer.Option(help="Kibana space id (default space if unset); created if missing."),
    ] = None,
    keep_existing: Annotated[
        bool,
        typer.Option(
            "--keep-existing",
            help="Import only objects Kibana does not have yet: edits made in Kibana stay "
            "(what the compose deployment's one-shot import does on every `up`).",
        ),
    ] = False,
    file: Annotated[
        Path | None, typer.Option(help="Import this NDJSON instead of building it from settings.")
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to keep retrying while Kibana starts.")
    ] = 0.0,
    ca_file: Annotated[Path | None, typer.Option(help="CA bundle for an HTTPS Kibana.")] = None,
) -> None:
    """Import (overwrite, or with --keep-existing add) the saved objects into Kibana."""
    settings = get_settings()
    payload = file.read_bytes() if file is not None else build_ndjson(settings).encode()
    auth = None
    if not api_key:
        secret = password if password is not None else settings.es_secret()
        if secret is None:
            _fail("no credentials: pass --api-key, or --user/--password, "
                  "or set NEWSFLOW_ES_PASSWORD", 1)
        auth = httpx.BasicAuth(user or settings.es.user, secret)
    prefix = f"/s/{space}" if space else ""
    endpoint = f"{url.rstrip('/')}{prefix}/api/saved_objects/_import"
    verify: Any = str(ca_file) if ca_file is not None else True
    with httpx.Client(
        auth=auth,
        headers=_auth_headers(api_key),
        timeout=60.0,
        verify=verify,
    ) as client:
        try:
            if space:
                _ensure_space(client, url.rstrip("/"), space)
            overwrite = "false" if keep_existing else "true"
            response = _post(client, endpoint, payload, wait=wait, overwrite=overwrite)
        except httpx.TransportError as e:
            _fail(f"cannot reach Kibana at {url}: {e.__class__.__name__} "
                  "(is it up? try --wait 120)", 1)
    if response.status_code in (401, 403):
        _fail(f"Kibana refused the credentials ({response.status_code}) at {url}", 1)
    if response.status_code >= 400:
        _fail(f"Kibana answered {response.status_code}: {response.text[:300]}", 1)
    body = response.json()
    errors = body.get("errors") or []
    kept = [e for e in errors if keep_existing and e.get("error", {}).get("type") == "conflict"]
    errors = [e for e in errors if e not in kept]
    for error in errors:
        typer.secho(f"  {_error_line(error)}", fg=typer.colors.RED, err=True)
    if errors or (not body.get("success", False) and not kept):
        _fail(f"import incomplete: {body.get('successCount', 0)} imported, {len(errors)} failed", 1)
    note = f", kept {len(kept)} already there" if kept else ""
    typer.echo(f"imported {body.get('successCount', 0)} saved objects into {url}{prefix}{note}")
