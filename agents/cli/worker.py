"""``newsflow worker``: one stream worker with every agent registered."""

from __future__ import annotations

import typer


def worker_command(
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="debug, info, warning, error"),
) -> None:
    """Run a stream worker: validate, enrich and index articles (and match alerts).

    Start several to share the work: workers form one consumer group and split the
    partitions of news.raw between them. Stop with Ctrl-C or SIGTERM.
    """
    from agents.worker import run_worker  # the Faust app: loaded only by this command

    run_worker(loglevel=loglevel)
