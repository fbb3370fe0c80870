"""``newsflow feeds add | import | list | remove | run``: follow RSS, Atom and JSON feeds."""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agents.cli._exit import fail as _fail
from pipeline.core.settings import get_settings
from pipeline.ingest.feeds import (
    FeedStoreError,
    Follower,
    OpmlError,
    feed_health,
    feed_id,
    new_subscription,
    read_book,
    read_opml,
    write_all,
)
from pipeline.ingest.feeds.book import STATE, SUB, FeedBook
from pipeline.ingest.feeds.store import check_topic
from pipeline.operations.metrics import start_metrics_server
from schemas.feeds import FeedSubscription

feeds_app = typer.Typer(
    help="Follow feeds (RSS 1.0/2.0, Atom, JSON Feed): each new entry is published once to "
         "news.raw. Subscriptions and polling state live on the compacted news.feeds topic, "
         "shared by every follower.",
    no_args_is_help=True,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

EveryOption = Annotated[
    str | None,
    typer.Option("--every", help="Poll interval, e.g. 90s, 15m, 1h (default: "
                                 "NEWSFLOW_FEEDS_INTERVAL_SECONDS, 15m).", show_default=False),
]
FullTextOption = Annotated[
    bool | None,
    typer.Option("--full-text/--no-full-text",
                 help="When an entry carries only a teaser, fetch its page and publish the "
                      "page's text (robots.txt respected). Default: off, or as it was.",
                 show_default=False),
]


@feeds_app.command("add")
def add_command(
    urls: Annotated[list[str], typer.Argument(help="Feed URLs (http or https).",
                                              metavar="URL", show_default=False)],
    every: EveryOption = None,
    full_text: FullTextOption = None,
    title: Annotated[str | None, typer.Option(help="A name for the feed (one URL only).")] = None,
) -> None:
    """Follow feeds. Adding a feed again changes the options given and keeps its state."""
    interval = _interval(every)
    for url in urls:
        _check_url(url)
    if title and len(urls) > 1:
        _fail("--title names one feed; give one URL with it", code=2)
    _add([(url, title) for url in urls], interval=interval, full_text=full_text)


@feeds_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="An OPML file, as feed readers export.",
                                         metavar="FILE.opml", show_default=False)],
    every: EveryOption = None,
    full_text: FullTextOption = None,
) -> None:
    """Follow every feed of an OPML file (its outlines' xmlUrl)."""
    interval = _interval(every)
    try:
        outlines = read_opml(path)
    except OpmlError as e:
        _fail(str(e), code=1)
    good = []
    for outline in outlines:
        problem = _url_problem(outline.url)
        if problem:
            typer.echo(f"rejected {outline.url}: {problem}", err=True)
        else:
            good.append((outline.url, outline.title))
    _add(good, interval=interval, full_text=full_text)
    if len(good) < len(outlines):
        raise typer.Exit(1)


@feeds_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """Every followed feed with its health: last poll, failures, entries published."""
    settings = get_settings()
    book = _book()
    now = datetime.now(UTC)
    rows = [feed_health(feed, now) for feed in book.feeds()]
    if as_json:
        typer.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    table = Table(title=f"{len(rows)} feeds on {settings.topics.feeds}", title_justify="left")
    for column in ("feed", "health", "status", "published", "failures", "next poll", "error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        nxt = "-" if row.next_poll_at is None else _ago(row.next_poll_at, now)
        table.add_row(escape(row.title or row.url), row.health, str(row.last_status or "-"),
                      str(row.published), str(row.failures), nxt, escape(row.error or ""))
    Console().print(table)


@feeds_app.command("remove")
def remove_command(
    feeds: Annotated[list[str], typer.Argument(help="Feed URLs or ids (feed-…).",
                                               metavar="URL|ID", show_default=False)],
) -> None:
    """Stop following feeds (their state is deleted too)."""
    book = _book()
    records: list[tuple[str, str, FeedSubscription | None]] = []
    missing = []
    for given in feeds:
        ident = given if given.startswith("feed-") else feed_id(given)
        if ident not in book.subs:
            missing.append(given)
            continue
        records += [(SUB, ident, None), (STATE, ident, None)]
    _write(records)
    for given in missing:
        typer.echo(f"rejected {given}: not followed (see `newsflow feeds list`)", err=True)
    typer.echo(f"{len(records) // 2} removed; {len(missing)} not found")
    if missing:
        raise typer.Exit(1)


@feeds_app.command("run")
def run_command(
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve Prometheus /metrics here (default NEWSFLOW_METRICS_PORT; 0 = any free "
             "port).", show_default=False)] = None,
) -> None:
    settings = get_settings()
    logging.getLogger("newsflow").setLevel(logging.INFO)
    port = settings.metrics.port if metrics_port is None else metrics_port
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        check_topic(settings)
        start_metrics_server(port)
        Follower(settings, stop=stop).run()
    except FeedStoreError as e:
        _fail(str(e), code=2)
    except OSError as e:  # the metrics port is taken
        _fail(f"cannot serve metrics on port {port}: {e.strerror or e}; set "
              "NEWSFLOW_METRICS_PORT (0 = any free port)", code=2)


# Built from one-line paragraphs: typer's rich help keeps a docstring's line breaks.
run_command.__doc__ = "\n\n".join([
    "Poll the followed feeds until Ctrl-C or SIGTERM; start several to share them.",
    "Each feed is polled on its own schedule with conditional GET, backs off when it fails, "
    "and one host is asked one thing at a time. Followers split the feeds between them (a "
    "consumer group over news.feeds) and a restarted follower resumes from the state on the "
    "topic, so each new entry is published once. Progress and failures go to the log; "
    "per-feed health to `newsflow feeds list`, `newsflow status` and /metrics.",
])


def _add(feeds: list[tuple[str, str | None]], *, interval: float | None,
         full_text: bool | None) -> None:
    book = _book()
    records: list[tuple[str, str, FeedSubscription | None]] = []
    for url, title in feeds:
        ident = feed_id(url)
        old = book.subs.get(ident)
        sub = new_subscription(
            url, title=title or (old.title if old else None),
            interval_seconds=interval or (old.interval_seconds if old else None),
            full_text=full_text if full_text is not None else bool(old and old.full_text))
        if old is not None:
            sub = sub.model_copy(update={"added_at": old.added_at})
        records.append((SUB, ident, sub))
        typer.echo(f"{'updated' if old else 'added'} {ident} {url}")
    _write(records)
    typer.echo(f"{len(records)} feeds followed; start `newsflow feeds run` to poll them")


def _book() -> FeedBook:
    # The client logs every failed connection attempt; the command says it in one line.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        return read_book(get_settings())
    except FeedStoreError as e:
        _fail(f"{e}", code=2)


def _write(records: Sequence[tuple[str, str, FeedSubscription | None]]) -> None:
    if not records:
        return
    try:
        write_all(get_settings(), records)
    except FeedStoreError as e:
        _fail(str(e), code=2)


def _interval(every: str | None) -> float | None:
    if every is None:
        return None
    match = _DURATION.match(every)
    if not match or float(match.group(1)) <= 0:
        _fail(f"--every {every!r}: give a positive duration such as 90s, 15m or 1h", code=2)
    return float(match.group(1)) * _UNITS[match.group(2)]


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "not an http(s) URL"
    return None


def _check_url(url: str) -> None:
    problem = _url_problem(url)
    if problem:
        _fail(f"{url}: {problem}", code=2)


def _ago(when: datetime, now: datetime) -> str:
    seconds = (when - now).total_seconds()
    word = "in" if seconds >= 0 else "overdue"
    seconds = abs(seconds)
    text = f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m" if seconds < 7200 \
        else f"{seconds / 3600:.1f}h"
    return f"{word} {text}"


