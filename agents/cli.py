"""The ``newsflow`` console script: the pipeline CLI plus ``newsflow worker``.

``worker`` lives here, not in ``pipeline.cli``, because it needs the Faust app and
``pipeline`` never imports ``agents``.
"""

from __future__ import annotations

import typer

from pipeline.cli import app


@app.command("worker")
def worker_command(
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="debug, info, warning, error"),
) -> None:
    """Run a stream worker: validate, enrich and index articles (and match alerts).

    Start several to share the work: workers form one consumer group and split the
    partitions of news.raw between them. Stop with Ctrl-C or SIGTERM.
    """
    from agents.worker import run_worker

    run_worker(loglevel=loglevel)


def main() -> None:
    _configure_logging()
    app()


def _configure_logging() -> None:
    """Library warnings in the chosen format (NEWSFLOW_LOG_FORMAT); commands print results."""
    from pydantic import ValidationError

    from pipeline.config import get_settings
    from pipeline.logs import configure_logging

    try:
        fmt = get_settings().log_format
    except ValidationError:
        return  # the command itself reports the bad setting, in one line
    configure_logging(fmt=fmt)


if __name__ == "__main__":
    main()
