"""``newsflow worker``: one stream worker with every agent registered."""

from __future__ import annotations

import typer

from pipeline.core.errors import NewsflowError


def worker_command(
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="debug, info, warning, error"),
) -> None:
    """Run a stream worker: validate, enrich and index articles (and match alerts).

    Start several to share the work: workers form one consumer group and split the
    partitions of news.raw between them. Stop with Ctrl-C or SIGTERM.
    """
    from agents.worker import run_worker  # the Faust app: loaded only by this command

    try:
        run_worker(loglevel=loglevel)
    except NewsflowError as e:  # e.g. FaustIncompatible: a Faust the fixes do not fit
        typer.secho(f"error: {' '.join(str(e).split())}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from e
