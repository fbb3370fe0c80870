"""``newsflow enrich``: the enrich stage on a JSONL file, without Kafka or Elasticsearch.

Same ``Enricher`` as the stream, run in this process.  Each output line is an
``EnrichedArticle``; each input line that cannot become one is reported on stderr as
``line N: reason: detail`` and counted, and the exit status is 1 if there was any.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agents.cli._exit import fail as _fail
from pipeline.core.settings import get_settings
from pipeline.ingest.validate import InvalidArticle, parse_raw
from schemas import EnrichedArticle, RawArticle

if TYPE_CHECKING:
    from pipeline.enrichment.enrich import Enricher


@contextlib.contextmanager
def _open(path: str, mode: str) -> Iterator[IO]:
    """``-`` is stdin (read as bytes: a bad byte is one bad line, not a crash) or stdout."""
    if path == "-":
        yield sys.stdin.buffer if mode == "rb" else sys.stdout
        return
    try:
        handle = open(path, mode, encoding=None if "b" in mode else "utf-8")  # noqa: SIM115
    except OSError as e:
        _fail(f"cannot open {path}: {e.strerror}")
    with handle:
        yield handle


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    with contextlib.suppress(OSError), open(path, "rb") as f:
        return sum(1 for _ in f)
    return None


class _Run:
    """Counts and reports while batches go through the enricher."""

    def __init__(self, enricher: Enricher, out: IO[str], console: Console) -> None:
        self.enricher, self.out, self.console = enricher, out, console
        self.enriched = self.invalid = self.failed = 0

    def reject(self, line_no: int, reason: str, detail: str, *, invalid: bool) -> None:
        if invalid:
            self.invalid += 1
        else:
            self.failed += 1
        message = " ".join(f"line {line_no}: {reason}: {detail}".split())
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def flush(self, batch: list[tuple[int, RawArticle]]) -> None:
        outcomes = self.enricher.enrich([raw for _, raw in batch])
        for (line_no, _), outcome in zip(batch, outcomes, strict=True):
            if not isinstance(outcome, EnrichedArticle):
                self.reject(line_no, outcome.reason, outcome.detail, invalid=False)
            else:
                self.out.write(outcome.model_dump_json() + "\n")
                self.enriched += 1
        self.out.flush()


def enrich_command(
    input_path: Annotated[
        str, typer.Option("--input", "-i", help="RawArticle JSONL file, or - for stdin.")
    ] = "-",
    output_path: Annotated[
        str, typer.Option("--output", "-o", help="EnrichedArticle JSONL file, or - for stdout.")
    ] = "-",
) -> None:
    """Enrich RawArticle JSON lines offline (language, entities, places, tags)."""
    if input_path != "-" and not Path(input_path).is_file():
        _fail(f"no such file: {input_path}")
    # Imported here: spaCy takes a second or two to import, and every other `newsflow`
    # command would pay for it.
    from pipeline.enrichment.enrich import Enricher
    from pipeline.enrichment.nlp import NerError

    settings = get_settings()
    console = Console(stderr=True)
    try:
        enricher = Enricher.from_settings(settings)
    except NerError as e:
        _fail(str(e))
    started = time.monotonic()
    progress = Progress(
        TextColumn("enriching"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with _open(input_path, "rb") as src, _open(output_path, "w") as out, progress:
        task = progress.add_task("enrich", total=_count_lines(input_path))
        run = _Run(enricher, out, progress.console)
        batch: list[tuple[int, RawArticle]] = []
        for line_no, line in enumerate(src, start=1):
            progress.advance(task)
            if not line.strip():
                continue
            try:
                raw = parse_raw(line, max_bytes=settings.kafka.max_message_bytes)
            except InvalidArticle as e:
                run.reject(line_no, e.reason, e.detail, invalid=True)
            else:
                batch.append((line_no, raw))
            if len(batch) >= settings.enrich.batch_size:
                run.flush(batch)
                batch = []
        if batch:
            run.flush(batch)
    elapsed = time.monotonic() - started
    rejected = run.invalid + run.failed
    rate = run.enriched / elapsed if elapsed > 0 else 0.0
    typer.echo(
        f"enriched {run.enriched}, rejected {rejected} (invalid {run.invalid}, "
        f"failed {run.failed}) in {elapsed:.1f}s, {rate:.1f} articles/s",
        err=True,
    )
    if rejected:
        raise typer.Exit(1)
