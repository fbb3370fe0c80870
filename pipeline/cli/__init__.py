"""The ``newsflow`` command line."""

import typer

app = typer.Typer(help="newsflow: streaming news ingestion for migration monitoring.", no_args_is_help=True)


def main() -> None:
    app()
