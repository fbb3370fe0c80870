"""``newsflow publish PATH… | -``: put articles from files, directories or stdin on Kafka."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from pipeline.core.settings import get_settings
from pipeline.ingest.publish import KafkaUnavailable, PublishError, PublishSummary, publish

_FORMATS_HELP = (
    "Formats by extension: .json (an article object or a list), .jsonl/.ndjson (one a line), "
    ".txt (plain text, dateline kept), .html/.htm (main text extracted), .xml/.rss/.atom "
    "(each feed entry an article). Directories are read recursively; '-' reads stdin and "
    "guesses the format."
)


def publish_command(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files, directories, or '-' for standard input.",
                       metavar="PATH", show_default=False),
    ],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Parse and validate only; don't connect to Kafka."),
    ] = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Live count on stderr (terminals).")
    ] = True,
) -> None:
    settings = get_settings()
    # The client logs every failed connection attempt; the command says it in one line.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    if "-" in paths and sys.stdin.isatty():
        typer.echo("reading articles from standard input; end with Ctrl-D", err=True)
    try:
        summary = publish(paths, settings=settings, progress=progress, dry_run=dry_run)
    except KafkaUnavailable as e:
        typer.echo(f"error: {e}: is the stack up? run `newsflow stack up` "
                   "(or set NEWSFLOW_KAFKA_BOOTSTRAP)", err=True)
        raise typer.Exit(2) from e
    except PublishError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    _report(summary, dry_run=dry_run)
    if summary.rejected:
        raise typer.Exit(1)


# Built from one-line paragraphs: typer's rich help keeps a docstring's line breaks.
publish_command.__doc__ = "\n\n".join([
    "Publish articles to the raw topic (news.raw), keyed by their stable ids.",
    "Re-publishing the same articles reuses the same ids, so nothing is duplicated. Each "
    "rejected file, record or send is listed on one line with its reason; the exit status is "
    "1 if anything was rejected, 2 if Kafka could not be reached. A field that is bad on its "
    "own (a date out of range, an over-long author) is dropped, not the article: the drop is "
    "listed and noted in the article's metadata (dropped.<field>).",
    _FORMATS_HELP,
    "Examples: newsflow publish articles/ · newsflow publish feed.xml page.html · "
    "cat batch.jsonl | newsflow publish -",
])


_NOTES_SHOWN = 20


def _report(summary: PublishSummary, *, dry_run: bool) -> None:
    for origin, note in summary.notes[:_NOTES_SHOWN]:
        typer.echo(f"kept {origin} with {note}", err=True)
    if len(summary.notes) > _NOTES_SHOWN:
        typer.echo(f"… and {len(summary.notes) - _NOTES_SHOWN} more fields dropped or cleaned "
                   "(each noted in the article's metadata as dropped.* or cleaned.*)", err=True)
    for origin, reason in summary.rejected:
        typer.echo(f"rejected {origin}: {reason}", err=True)
    verb = "valid (dry run, nothing sent)" if dry_run else f"published to {summary.topic}"
    fixed = f"; {len(summary.notes)} fields dropped or cleaned" if summary.notes else ""
    typer.echo(f"{summary.published} {verb}; {len(summary.rejected)} rejected{fixed}")
