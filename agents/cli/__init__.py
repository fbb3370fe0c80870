"""The ``newsflow`` command line: the one entry point, one sub-command per module.

It sits on top of everything (it may import ``agents`` and ``pipeline``); ``main`` is what
the console script, ``python -m agents.cli`` and the tests run, so they all get the same
commands and the same logging.
"""

from __future__ import annotations

import typer
from pydantic import ValidationError

from agents.cli.alerts import alerts_app
from agents.cli.api import api_command, api_key_command
from agents.cli.certs import certs_command
from agents.cli.deadletter import deadletter_app
from agents.cli.enrich import enrich_command
from agents.cli.feeds import feeds_app
from agents.cli.kibana import kibana_app
from agents.cli.publish import publish_command
from agents.cli.search import search_command
from agents.cli.setup import setup_command
from agents.cli.stack import stack_app
from agents.cli.status import status_command
from agents.cli.worker import worker_command
from pipeline.core.settings import get_settings
from pipeline.operations.logs import configure_logging

app = typer.Typer(
    help="newsflow: streaming news ingestion for people who follow migration in the news.",
    no_args_is_help=True,
)

app.add_typer(stack_app, name="stack")
app.command("setup")(setup_command)
app.command("worker")(worker_command)
app.command("publish")(publish_command)
app.add_typer(feeds_app, name="feeds")
app.command("enrich")(enrich_command)
app.command("search")(search_command)
app.add_typer(alerts_app, name="alerts")
app.command("api")(api_command)
app.command("api-key")(api_key_command)
app.command("certs")(certs_command)
app.add_typer(kibana_app, name="kibana")
app.command("status")(status_command)
app.add_typer(deadletter_app, name="deadletter")


def main() -> None:
    _configure_logging()
    app()


def _configure_logging() -> None:
    """newsflow's warnings on stderr in the chosen format (NEWSFLOW_LOG_FORMAT), libraries'
    records in <home>/logs/cli.log: commands print results, not library noise."""
    try:
        settings = get_settings()
    except ValidationError:
        return  # the command itself reports the bad setting, in one line
    try:
        configure_logging(fmt=settings.log_format, log_file=settings.home / "logs" / "cli.log")
    except OSError:  # an unwritable home: no log file rather than no command
        configure_logging(fmt=settings.log_format)
