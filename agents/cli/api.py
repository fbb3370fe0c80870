"""``newsflow api``: serve the alert-rule HTTP API with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.core.settings import get_settings


def api_command(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: NEWSFLOW_API_HOST).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port to listen on (default: NEWSFLOW_API_PORT)."),
    ] = None,
) -> None:
    """Serve the alert-rule API (OpenAPI schema at /openapi.json, docs at /docs).

    Every /rules call needs a key (at least 32 characters: `newsflow api-key --save`) from
    NEWSFLOW_API_KEYS or the 0600 key file, sent as X-API-Key or Authorization: Bearer.
    """
    import uvicorn

    from pipeline.alerts.api import ApiConfigError, create_api

    settings = get_settings()
    try:
        app = create_api(settings)
    except ApiConfigError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    uvicorn.run(app, host=host or settings.api.host, port=port or settings.api.port)


def api_key_command(
    save: Annotated[
        bool,
        typer.Option(help="Also append it to the key file (NEWSFLOW_API_KEY_FILE, default "
                     "<home>/api.keys; created 0600) that `newsflow api` reads."),
    ] = False,
) -> None:
    """Print a new random API key (32 bytes, 43 characters) for the alert API.

    Give it to the client and keep it out of argv and shell history: pass it in a header,
    from a file or an environment variable.
    """
    from pipeline.alerts.api import ApiConfigError, new_api_key, save_api_key

    key = new_api_key()
    if save:
        try:
            path = save_api_key(get_settings(), key)
        except ApiConfigError as e:
            typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from e
        typer.echo(f"saved to {path}", err=True)
    typer.echo(key)
