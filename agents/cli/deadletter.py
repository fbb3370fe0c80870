"""``newsflow deadletter list|replay``: see what failed, and run it again after a fix.

Exit codes: 0 done, 1 nothing matched the filters or nothing could be replayed (replay),
2 Kafka unreachable or the topic missing.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agents.cli._exit import fail as _fail
from pipeline.core.settings import get_settings
from pipeline.operations.deadletters import (
    DeadLetterError,
    Replayed,
    StoredLetter,
    payload_of,
    read_letters,
    replay,
    select,
)

deadletter_app = typer.Typer(help="Inspect and replay dead letters.", no_args_is_help=True)

_PREVIEW = 60

StageOpt = Annotated[str | None, typer.Option(help="Only this stage (validate, enrich, …).")]
ReasonOpt = Annotated[str | None, typer.Option(help="Only this reason (e.g. invalid_json).")]


def _letters(*, stage: str | None, reason: str | None, key: str | None) -> list[StoredLetter]:
    try:
        scan = read_letters(get_settings())
    except DeadLetterError as e:
        _fail(str(e))
    if scan.unreadable:
        typer.echo(f"warning: {scan.unreadable} message(s) on the topic are not dead letters",
                   err=True)
    return select(scan.letters, stage=stage, reason=reason, key=key)


def _preview(payload: bytes) -> str:
    text = payload.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


def _as_dict(stored: StoredLetter) -> dict[str, object]:
    letter = stored.letter
    payload = payload_of(letter)
    return {
        "offset": stored.offset, "partition": stored.partition, "key": letter.key,
        "stage": letter.stage, "reason": letter.reason, "error": letter.error,
        "first_seen": letter.first_seen.isoformat(), "source_topic": letter.topic,
        "source_partition": letter.partition, "source_offset": letter.offset,
        "attempts": letter.attempts,
        "payload_bytes": len(payload) if payload is not None else None,
        "payload_preview": (
            _preview(payload) if payload is not None
            else f"(not valid base64: {_preview(letter.payload_b64.encode())})"),
    }


@deadletter_app.command("list")
def list_command(
    stage: StageOpt = None,
    reason: ReasonOpt = None,
    key: Annotated[str | None, typer.Option(help="Only letters with this key.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most the latest N.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """List dead letters, oldest first: key, stage, reason, error, when, payload preview."""
    letters = _letters(stage=stage, reason=reason, key=key)
    shown = letters[-limit:]
    if as_json:
        typer.echo(json.dumps([_as_dict(s) for s in shown], indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(shown)} of {len(letters)} dead letter(s)", title_justify="left")
    for column in ("offset", "key", "stage", "reason", "error", "first seen", "bytes", "payload"):
        table.add_column(column, overflow="fold",
                         justify="right" if column in ("offset", "bytes") else "left")
    for stored in shown:
        row = _as_dict(stored)
        table.add_row(str(row["offset"]), escape(str(row["key"] or "-")), str(row["stage"]),
                      escape(str(row["reason"])), escape(str(row["error"])),
                      str(row["first_seen"])[:19],
                      "-" if row["payload_bytes"] is None else str(row["payload_bytes"]),
                      escape(str(row["payload_preview"])))
    Console().print(table)


@deadletter_app.command("replay")
def replay_command(
    stage: StageOpt = None,
    reason: ReasonOpt = None,
    key: Annotated[str | None, typer.Option(help="Only letters with this key.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be re-published; send nothing.")
    ] = False,
) -> None:
    letters = _letters(stage=stage, reason=reason, key=key)
    if not letters:
        _fail("no dead letters match the filters (see `newsflow deadletter list`)", 1)
    try:
        result = replay(letters, settings=get_settings(), dry_run=dry_run)
    except DeadLetterError as e:
        _fail(str(e))
    for item in result.send:
        typer.echo(_describe(item, dry_run=dry_run))
    for skipped in result.skipped:
        letter = skipped.letter.letter
        typer.echo(f"offset {skipped.letter.offset} [{letter.stage}/{letter.reason}] "
                   f"skipped: {skipped.reason}", err=True)
    verb = "would re-publish" if dry_run else "re-published"
    targets = sorted({item.topic for item in result.send})
    typer.echo(f"{verb} {len(result.send)} message(s)"
               + (f" to {', '.join(targets)}" if targets else "")
               + (f"; {len(result.skipped)} skipped" if result.skipped else ""))
    if not result.send:
        raise typer.Exit(1)


def _describe(item: Replayed, *, dry_run: bool) -> str:
    letter = item.letter.letter
    arrow = "would go to" if dry_run else "→"
    key = item.key.decode("utf-8", "replace") if item.key is not None else "-"
    return (f"offset {item.letter.offset} [{letter.stage}/{letter.reason}] key={key} "
            f"{arrow} {item.topic}")


# Built from one-line paragraphs: typer's rich help keeps a docstring's line breaks.
replay_command.__doc__ = "\n\n".join([
    "Re-publish the original bytes of matching dead letters, to run them again after a fix.",
    "Each goes back to the topic its stage reads: news.raw for validate and enrich, "
    "news.enriched for index, news.alerts (keyed by rule id) for deliver.",
    "Safe to repeat: articles keep their ids, so the index is overwritten, not duplicated. "
    "A letter that fails again comes back as a new dead letter. A letter that cannot be "
    "sent (payload not valid base64, no route for its stage) is skipped and reported. "
    "Exit status 1 when nothing matches the filters or nothing could be sent.",
])
