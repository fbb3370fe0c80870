"""``newsflow stack up | down | status | logs``: the real local Kafka and Elasticsearch."""

from __future__ import annotations

import subprocess
import time
from collections import deque
from pathlib import Path

import typer

from pipeline import stack
from pipeline.core.settings import get_settings

stack_app = typer.Typer(help="Run the local Kafka broker and Elasticsearch node (loopback).",
                        no_args_is_help=True)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _print_status(rows: list[stack.ServiceStatus]) -> bool:
    for row in rows:
        state = "ready" if row.ready else ("running, not ready" if row.pid else "stopped")
        pid = f"pid {row.pid}" if row.pid else "-"
        typer.echo(f"{row.name:<14} {state:<19} {pid:<11} {row.address}")
    return all(row.ready for row in rows)


@stack_app.command()
def up() -> None:
    """Fetch (first time), start and wait for Kafka and Elasticsearch; no-op if running."""
    settings = get_settings()
    t0 = time.monotonic()
    try:
        rows = stack.up(settings, echo=typer.echo)
    except stack.StackError as e:
        _fail(str(e))
        return
    ok = _print_status(rows)
    typer.echo(f"Kafka: SASL_SSL + SCRAM-SHA-512 as admin (other principals: "
               f"NEWSFLOW_KAFKA_SASL_USERNAME); passwords in {settings.stack_dir / 'credentials'}")
    typer.echo(f"Elasticsearch: {settings.es.url} as elastic, password in "
               f"{settings.stack_dir / 'elastic.password'}; CA {settings.stack_ca_file}  "
               f"(took {time.monotonic() - t0:.0f}s)")
    if not ok:
        raise typer.Exit(1)


@stack_app.command()
def down() -> None:
    """Stop what `up` started (SIGTERM, then SIGKILL); data stays in <home>/stack."""
    try:
        stack.down(get_settings(), echo=typer.echo)
    except stack.StackError as e:
        _fail(str(e))


@stack_app.command()
def status() -> None:
    """Show what runs; exit 1 unless both services are ready."""
    try:
        ok = _print_status(stack.status(get_settings()))
    except stack.StackError as e:
        _fail(str(e))
        return
    if not ok:
        raise typer.Exit(1)


@stack_app.command()
def logs(
    lines: int = typer.Option(40, "--lines", "-n", help="Lines per log."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep following (Ctrl-C stops)."),
) -> None:
    """Print the tail of the Kafka and Elasticsearch logs."""
    files = [f for f in stack.log_files(get_settings()) if f.exists()]
    if not files:
        _fail("no logs yet; run `newsflow stack up` first")
    if follow:
        subprocess.run(["tail", "-n", str(lines), "-F", *map(str, files)], check=False)
        return
    for path in files:
        typer.secho(f"==> {path} <==", bold=True)
        typer.echo("".join(_tail(path, lines)), nl=False)


def _tail(path: Path, lines: int) -> deque[str]:
    with path.open(errors="replace") as f:
        return deque(f, maxlen=lines)
