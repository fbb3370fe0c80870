"""How every command refuses: one line on stderr, then a non-zero exit."""

from __future__ import annotations

from typing import NoReturn

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    """``error: <message>`` on one line, exit ``code`` (2: the command or its input is
    wrong; 1: what it needs is missing or refused it)."""
    typer.secho(f"error: {' '.join(message.split())}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)
