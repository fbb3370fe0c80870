"""``newsflow certs``: a private CA and server certificates for Kafka and Elasticsearch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def certs_command(
    out: Annotated[Path, typer.Argument(help="Folder to write into (created; nothing in it "
                                        "is overwritten, so an existing CA is reused).")],
    server: Annotated[
        list[str],
        typer.Option(help="NAME=HOST[,HOST…]: a server certificate for these names and IP "
                     "addresses (repeatable), e.g. kafka=kafka,localhost,127.0.0.1."),
    ],
) -> None:
    """Make the CA (out/ca, private; out/public/ca.crt for clients) and server certificates.

    Each server gets out/NAME/ with NAME.key (PKCS#8), NAME.crt (chain), NAME.pem (key and
    chain: a Kafka PEM keystore) and ca.crt; keys are 0600 in 0700 folders.
    """
    from pipeline.stack.tls import issue

    servers: dict[str, list[str]] = {}
    for spec in server:
        name, _, hosts = spec.partition("=")
        names = [h.strip() for h in hosts.split(",") if h.strip()]
        if not name or not names or "/" in name:
            typer.secho(f"error: --server {spec!r}: use NAME=HOST[,HOST…]", fg="red", err=True)
            raise typer.Exit(2)
        servers[name] = names
    for name, files in issue(out, servers).items():
        typer.echo(f"{name}: {files.keystore}")
    typer.echo(f"CA certificate for clients: {out / 'public' / 'ca.crt'}")
