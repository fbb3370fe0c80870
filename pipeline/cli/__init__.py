"""The ``newsflow`` command line: one sub-command per job, each in its own module."""

import typer

from pipeline.cli.alerts import alerts_app
from pipeline.cli.api import api_command
from pipeline.cli.deadletter import deadletter_app
from pipeline.cli.enrich import enrich_command
from pipeline.cli.kibana import kibana_app
from pipeline.cli.publish import publish_command
from pipeline.cli.search import search_command
from pipeline.cli.setup import setup_command
from pipeline.cli.stack import stack_app
from pipeline.cli.status import status_command

app = typer.Typer(
    help="newsflow: streaming news ingestion for people who follow migration in the news.",
    no_args_is_help=True,
)

app.add_typer(stack_app, name="stack")
app.command("setup")(setup_command)
app.command("publish")(publish_command)
app.command("enrich")(enrich_command)
app.command("search")(search_command)
app.add_typer(alerts_app, name="alerts")
app.command("api")(api_command)
app.add_typer(kibana_app, name="kibana")
app.command("status")(status_command)
app.add_typer(deadletter_app, name="deadletter")


def main() -> None:
    app()
